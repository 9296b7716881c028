"""A Slack incoming-webhook stand-in: 200 ``ok`` for a JSON body with text or blocks, else 400
``invalid_payload`` as Slack answers; keeps the accepted messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_http import FakeServer, Request


@dataclass
class FakeSlack:
    server: FakeServer = field(init=False)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = FakeServer(self.respond)

    @property
    def url(self) -> str:
        return self.server.url + "/services/T000/B000/XXXX"

    def respond(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        try:
            message = request.json()
        except ValueError:
            return 400, {}, b"invalid_payload"
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return 400, {}, b"invalid_payload"
        self.messages.append(message)
        return 200, {"Content-Type": "text/plain"}, b"ok"
