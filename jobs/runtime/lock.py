"""One writer per local lakehouse: an exclusive ``flock`` on ``<lakehouse>/_system/writer.lock``.

Every job that writes takes the lock before its first write and holds it until it exits; the
reading commands never take it. The kernel releases a ``flock`` when its holder dies, even on
``kill -9``, so a crashed run never leaves a lock behind: the file's text (the holder's pid,
host and start time) only names the current holder while the lock is held, and the next run
overwrites it. A second run waits up to ``writer_lock.wait`` (default 0: not at all) and then
stops with one sentence naming the holder. On an ``s3a://`` lakehouse there is no file to lock:
the DynamoDB commit table serializes the commits instead (docs/operations.md).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.runtime.times import parse_duration

LOCK_FILE = "_system/writer.lock"
POLL_SECONDS = 0.2


class LakehouseBusy(RuntimeError):
    """Another run holds the lakehouse's writer lock (reported as one sentence)."""


def lock_path(lakehouse: str) -> Path | None:
    """The lock file of a local lakehouse; ``None`` for a URI with a scheme (``s3a://``)."""
    if "://" in lakehouse and not lakehouse.startswith("file://"):
        return None
    return Path(lakehouse.removeprefix("file://")) / LOCK_FILE


def holder_text(job: str) -> str:
    """What the lock file says while this process holds it."""
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"job": job, "pid": os.getpid(), "host": socket.gethostname(),
                       "started_at": started}) + "\n"


def describe(text: str) -> str:
    """The holder named in a lock file's text, for the error sentence."""
    try:
        holder: dict[str, Any] = json.loads(text)
        return (f"{holder['job']} (pid {holder['pid']} on {holder['host']}, "
                f"started {holder['started_at']})")
    except (ValueError, KeyError, TypeError):
        return "a run that has not written its name yet"


@contextmanager
def writer_lock(conf: dict[str, Any], job: str) -> Iterator[None]:
    """Hold the lakehouse's writer lock for the ``with`` block (a no-op on an S3 lakehouse).

    Raises ``LakehouseBusy`` when another process still holds it after ``writer_lock.wait``.
    """
    path = lock_path(conf["lakehouse"])
    if path is None:
        yield
        return
    wait = parse_duration((conf.get("writer_lock") or {}).get("wait", 0)).total_seconds()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, wait, conf["lakehouse"])
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder_text(job).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, path: Path, wait: float, lakehouse: str) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = describe(path.read_text(errors="replace"))
                waited = f" after waiting {wait:g} s" if wait else ""
                raise LakehouseBusy(
                    f"another run is writing to the lakehouse {lakehouse}{waited}: {holder} "
                    f"holds {path}; run again when it has finished, or set writer_lock.wait."
                ) from None
            time.sleep(POLL_SECONDS)
