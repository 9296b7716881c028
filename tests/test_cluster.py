"""The pipeline through ``spark-submit.sh`` on a Spark standalone cluster: a master and one worker
started on 127.0.0.1 from the installed pyspark (its wheel has bin/spark-class, no sbin/).

The cluster and the run are a background job (``tests/background.py``): they start when the
suite is collected and work beside the in-process tests; the test checks what the run wrote."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pyspark
import pytest
from pyspark.sql import SparkSession

from jobs import tables
from tests import background
from tests.landing_fixtures import write_hostile_landing
from tests.ports import free_port
from tests.s3_support import accounting, submit
from tests.test_ingest_job import EXPECTED

SPARK_HOME = Path(pyspark.__file__).parent


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


@dataclass(frozen=True)
class ClusterRun:
    """What the pipeline run on the cluster printed and wrote, and the worker's log."""

    stdout: str
    lake: Path
    worker_log: str


@background.job("test_cluster.py")
def run_on_cluster(tmp: Path) -> ClusterRun:
    """Start a master and one 1-core, 1 GiB worker; run the pipeline on the hostile landing
    zone through ``spark-submit.sh`` against them; stop the cluster."""
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1"}
    port = free_port()
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
        write_hostile_landing(tmp / "landing")
        lake = tmp / "lake"
        out = submit(["pipeline", "--master", url, "--env", "test", "--no-detect",
                      "--landing", str(tmp / "landing"), "--lakehouse", str(lake)],
                     {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DRIVER_MEMORY": "1g"})
        return ClusterRun(out, lake, worker_log.read_text())
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
    request: pytest.FixtureRequest, spark: SparkSession
) -> None:
    run: ClusterRun = background.result(request, "test_cluster.py")

    assert accounting(run.stdout) == {
        source: (a.files, a.files_skipped, a.records_read, a.rows_written, a.duplicates,
                 a.quarantined)
        for source, a in EXPECTED.items()
    }
    counts = {name: spark.read.format("delta").load(tables.table_path(str(run.lake), name)).count()
              for name in (tables.CLOUDTRAIL, tables.VPC_FLOWS_TABLE, tables.GUARDDUTY)}
    assert counts == {tables.CLOUDTRAIL: 23, tables.VPC_FLOWS_TABLE: 9, tables.GUARDDUTY: 1}
    assert "Asked to launch executor" in run.worker_log  # it ran on the worker
