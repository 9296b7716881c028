"""One writer per local lakehouse (``jobs.runtime.lock``): a second writer waits or exits with one
sentence naming the holder, a holder killed with SIGKILL leaves nothing that blocks the next run,
and the reading commands never take the lock. Plain Python processes: no JVM starts (the lock is
taken before the session)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.main import main
from jobs.runtime.config import load_config
from jobs.runtime.lock import LOCK_FILE, LakehouseBusy, lock_path, writer_lock

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys
from jobs.runtime.lock import writer_lock
with writer_lock({"lakehouse": sys.argv[1]}, "pipeline"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``tmp_path/lake`` until its standard input closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "lake")], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def conf(tmp_path: Path, wait: str = "0") -> dict:
    return load_config("test", [f"lakehouse={tmp_path / 'lake'}", f"writer_lock.wait={wait}"])


def test_a_second_writer_exits_at_once_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(LakehouseBusy) as caught, writer_lock(conf(tmp_path), "ingest"):
        pytest.fail("the lock was taken twice")
    message = str(caught.value)
    assert f"pipeline (pid {holder.pid} on {socket.gethostname()}, started " in message
    assert str(tmp_path / "lake" / LOCK_FILE) in message
    assert "\n" not in message


def test_a_waiting_writer_takes_the_lock_when_the_holder_finishes(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    taken = threading.Event()

    def wait_for_it() -> None:
        with writer_lock(conf(tmp_path, "10 minutes"), "detect"):
            taken.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not taken.is_set()  # the holder still runs
    assert holder.stdin is not None
    holder.stdin.close()  # the holder finishes
    waiter.join()
    assert taken.is_set()


def test_a_holder_killed_with_sigkill_blocks_nothing(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    path = tmp_path / "lake" / LOCK_FILE
    assert json.loads(path.read_text())["pid"] == holder.pid  # the dead run's name stays
    with writer_lock(conf(tmp_path), "pipeline"):
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_an_s3_lakehouse_has_no_lock_file() -> None:
    assert lock_path("s3a://lake/trailwarden") is None
    with writer_lock({"lakehouse": "s3a://lake/trailwarden"}, "pipeline"):
        pass


WRITERS = [
    ["pipeline"], ["ingest"], ["detect"], ["report"],
    ["incidents", "run"], ["incidents", "ack", "INC-20261120-0ee405169d"],
    ["incidents", "resolve", "INC-20261120-0ee405169d"],
    ["remediate", "INC-20261120-0ee405169d", "--execute", "--yes"],
    ["notify", "--set", "destinations.lake.type=ocsf", "--set", "destinations.lake.path=ocsf"],
]


def run_job(args: list[str], lake: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``jobs.main <job>`` in this process: the lock is taken before any Spark work."""
    code = main([*args, "--env", "test", "--lakehouse", str(lake)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("args", WRITERS, ids=[" ".join(a[:2]) for a in WRITERS])
def test_every_writing_job_refuses_a_held_lakehouse(
    tmp_path: Path, holder: subprocess.Popen[str], args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_job(args, tmp_path / "lake", capsys)
    assert code == 1
    assert err.startswith(f"trailwarden {args[0]}: another run is writing to the lakehouse")
    assert f"pipeline (pid {holder.pid} on " in err
    assert err.count("\n") == 1  # one sentence, no traceback


@pytest.mark.parametrize("args", [["alerts"], ["incidents", "list"],
                                  ["incidents", "show", "INC-20261120-0ee405169d"]])
def test_reading_commands_never_take_the_lock(
    tmp_path: Path, holder: subprocess.Popen[str], args: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = run_job(args, tmp_path / "lake", capsys)
    assert "another run is writing" not in err
    assert code in (0, 1), err  # 1: nothing to read in an empty lakehouse
