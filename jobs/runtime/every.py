"""Running one job cycle repeatedly in a warm process (``pipeline --every 5m``).

A cycle starts every ``interval`` (measured from the start of the previous one; a cycle that
takes longer than the interval is followed at once by the next). A cycle that raises is logged
and the next one runs: the tables are safe to rerun (keyed MERGEs, the file manifest written
last), so the next cycle picks up what the failed one left. SIGTERM or SIGINT stops the loop
after the running cycle, or at once while it waits.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import FrameType

log = logging.getLogger("trailwarden.every")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (the previous handlers are put
    back afterwards)."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        log.info("every: %s received; stopping after the running cycle", name)
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_every(
    interval: timedelta, cycle: Callable[[int], object], stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[int, int]:
    """Call ``cycle(n)`` (n = 1, 2, ...) every ``interval`` until ``stop`` is set; return the
    cycles run and how many of them failed."""
    runs = failed = 0
    while not stop.is_set():
        began = clock()
        runs += 1
        try:
            cycle(runs)
        except Exception:  # a failed cycle is reported; the next one retries its work
            failed += 1
            log.exception("every: cycle %d failed; the next cycle retries", runs)
        stop.wait(max(0.0, interval.total_seconds() - (clock() - began)))
    return runs, failed
