"""``pipeline --every``: the warm loop runs cycles until SIGTERM and survives a failed cycle
(``jobs.runtime.every``; the cycle here is a plain function, the loop and signals are real)."""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta

import pytest

from jobs.commands.pipeline import main
from jobs.runtime.every import run_every, stop_on_signals


def test_a_failed_cycle_is_followed_by_the_next_and_sigterm_stops_the_loop() -> None:
    seen: list[int] = []

    def cycle(n: int) -> None:
        seen.append(n)
        if n == 2:
            raise RuntimeError("the landing zone was unreachable")
        if n == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while the third cycle runs

    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert run_every(timedelta(0), cycle, stop) == (3, 1)
    assert seen == [1, 2, 3]
    assert signal.getsignal(signal.SIGTERM) is before


class RecordingStop(threading.Event):
    """A stop event that records each wait and is set by the first one."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.set()
        return True


def test_the_next_cycle_starts_an_interval_after_the_previous_one_started() -> None:
    stop = RecordingStop()
    ticks = iter([100.0, 160.0])  # the cycle took 60 s
    assert run_every(timedelta(minutes=5), lambda n: None, stop, lambda: next(ticks)) == (1, 0)
    assert stop.waits == [240.0]


def test_every_takes_a_duration() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--every", "soon"])
    assert exited.value.code == 2  # a usage error before any work
