"""A recording HTTP server on 127.0.0.1 (http.server in a thread) for the delivery tests, with
faults queued per request: 429 with Retry-After, 500, a slow answer, a dropped connection, or
SIGKILL of a process (the notify run under test) once the request is recorded and processed,
before the answer is sent."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Fault:
    """``kind``: an HTTP status such as 429 (with ``retry_after``), 500 or 400; slow
    (``seconds``, then answer); drop; kill."""

    kind: str
    retry_after: str | None = None
    seconds: float = 0.0


Responder = Callable[[Request], tuple[int, dict[str, str], bytes]]


@dataclass
class FakeServer:
    """Records every request; answers with ``respond`` unless a queued fault applies."""

    respond: Responder
    requests: list[Request] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    kill_pid: int | None = None
    pid_ready: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def kill_on_next_request(self, pid: int) -> None:
        self.kill_pid = pid
        self.faults.append(Fault("kill"))
        self.pid_ready.set()

    def start(self) -> FakeServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length))
                owner.requests.append(request)
                fault = owner.faults.popleft() if owner.faults else None
                if fault and fault.kind in ("drop", "kill"):
                    if fault.kind == "kill":  # the receiver processes it; the sender dies
                        owner.respond(request)
                        owner.pid_ready.wait(30)
                        assert owner.kill_pid is not None
                        os.kill(owner.kill_pid, signal.SIGKILL)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault and fault.kind == "slow":
                    time.sleep(fault.seconds)
                if fault and fault.kind.isdigit():
                    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    status, body = int(fault.kind), b'{"status":"error"}'
                else:
                    status, headers, body = owner.respond(request)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
