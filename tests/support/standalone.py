"""A Spark standalone cluster on 127.0.0.1 for the tests: a master and one 1-core, 1 GiB worker
started from the installed pyspark (its wheel has bin/spark-class, no sbin/)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyspark

from tests.support import background
from tests.support.ports import free_port

SPARK_HOME = Path(pyspark.__file__).parent


@dataclass(frozen=True)
class Cluster:
    """The master's URL and the worker's log file."""

    url: str
    worker_log: Path


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return background.popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args], stdout=out,
            stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )


def _wait_for(log: Path, pattern: str, proc: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace")):
            return
        assert proc.poll() is None, f"{log.name} exited:\n{log.read_text()[-3000:]}"
        time.sleep(0.3)
    raise AssertionError(f"{pattern!r} not in {log.name} after {seconds}s")


@contextmanager
def standalone_cluster(work: Path, env: dict[str, str]) -> Iterator[Cluster]:
    """Start the master and the worker with ``env`` (executors inherit the worker's
    environment); stop both afterwards."""
    env = {**env, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1"}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    try:
        master_log = work / "master.log"
        procs.append(_start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                             "--port", str(port), "--webui-port", "0"], master_log, env))
        _wait_for(master_log, r"I have been elected leader", procs[0], 120)
        worker_log = work / "worker.log"
        procs.append(_start(["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                             "--cores", "1", "--memory", "1g", "--webui-port", "0",
                             "--work-dir", str(work / "work")], worker_log, env))
        _wait_for(worker_log, r"Successfully registered with master", procs[1], 120)
        yield Cluster(url, worker_log)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
