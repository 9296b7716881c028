"""The pipeline through ``spark-submit.sh`` on a Spark standalone cluster: a master and one worker
started on 127.0.0.1 from the installed pyspark (its wheel has bin/spark-class, no sbin/)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import SparkSession

from jobs import tables
from tests.landing_fixtures import write_hostile_landing
from tests.s3_support import accounting, submit
from tests.test_ingest_job import EXPECTED

SPARK_HOME = Path(pyspark.__file__).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT#WORKER_LOG``: a running master with one 1-core, 1 GiB worker."""
    tmp = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1"}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = []
    try:
        master_log = tmp / "master.log"
        procs.append(_start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                             "--port", str(port), "--webui-port", "0"], master_log, env))
        _wait_for(master_log, r"I have been elected leader", procs[0], 120)
        worker_log = tmp / "worker.log"
        procs.append(_start(["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                             "--cores", "1", "--memory", "1g", "--webui-port", "0",
                             "--work-dir", str(tmp / "work")], worker_log, env))
        _wait_for(worker_log, r"Successfully registered with master", procs[1], 120)
        yield f"{url}#{worker_log}"
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


@pytest.mark.slow
def test_pipeline_runs_on_a_standalone_cluster(
    cluster: str, spark: SparkSession, tmp_path: Path
) -> None:
    write_hostile_landing(tmp_path / "landing")
    lake = tmp_path / "lake"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DRIVER_MEMORY": "1g"}
    out = submit(["pipeline", "--master", cluster.split("#", 1)[0], "--env", "test", "--no-detect",
                  "--landing", str(tmp_path / "landing"), "--lakehouse", str(lake)], env)

    assert accounting(out) == {
        source: (a.files, a.files_skipped, a.records_read, a.rows_written, a.duplicates,
                 a.quarantined)
        for source, a in EXPECTED.items()
    }
    counts = {name: spark.read.format("delta").load(tables.table_path(str(lake), name)).count()
              for name in (tables.CLOUDTRAIL, tables.VPC_FLOWS_TABLE, tables.GUARDDUTY)}
    assert counts == {tables.CLOUDTRAIL: 23, tables.VPC_FLOWS_TABLE: 9, tables.GUARDDUTY: 1}
    worker_log = Path(cluster.split("#", 1)[1])
    assert "Asked to launch executor" in worker_log.read_text()  # it ran on the worker

