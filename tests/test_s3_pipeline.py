"""The pipeline on S3 (a moto server on 127.0.0.1) and on a Spark standalone cluster (a master
and one worker on 127.0.0.1, ``tests/support/standalone.py``): the landing zone in one bucket, every
table in another, through ``spark-submit.sh``; the same accounting and tables as the same files
give on local disk; a rerun adds nothing. The first run goes through the cluster while a second
run on ``local[*]`` works on the same landing zone and lakehouse at the same time: the DynamoDB
commit table serializes their commits, so every row and every manifest entry lands once (a run
whose commit lost the race stops with one sentence; the other finishes).

The landing zone is one hour of the sample day (the files delivered 14:00-15:00 UTC, the
attack's hour, from ``devtools.sample.cli --hours 14``) plus the hostile landing zone of
``tests/support/landing_fixtures.py`` (every bad-input case), not all ~2,600 sample objects: the
per-object request cost against the moto server dominates, and this exercises every code path.
The first run goes through the cluster, so the executors on the worker parse and quarantine the
hostile files and write to S3; the rerun goes through ``local[*]``.

The runs are a background job (``tests/support/background.py``, with its own moto server and
cluster): they start when the suite is collected and work beside the in-process tests; the test then
ingests the same files from local disk in-process and compares.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs import lakehouse
from jobs.ingest.run import run_ingest
from jobs.runtime.config import load_config
from jobs.sources import CLOUDTRAIL, GUARDDUTY, VPCFLOW
from tests.support import background
from tests.support.landing_fixtures import write_hostile_landing
from tests.support.moto_server import moto_endpoint, upload_tree
from tests.support.s3_support import (
    ROOT,
    accounting,
    delta_row_count,
    finish,
    start_submit,
    submit,
)
from tests.support.standalone import standalone_cluster
from tests.test_ingest_job import EXPECTED

LOGS, LAKE = "tw-logs", "tw-lake"
TABLES = (CLOUDTRAIL.table, VPCFLOW.table, GUARDDUTY.table, lakehouse.QUARANTINE,
          lakehouse.INGESTED_FILES)


@dataclass(frozen=True)
class S3Runs:
    """The two pipeline runs on S3: landing files, accounting, table row counts, LogStore state,
    and the cluster worker's log."""

    landing: Path
    files: int
    uploaded: int
    first: list[dict[str, tuple[int, ...]]]
    codes: list[int]
    errors: list[str]
    counts: dict[str, int]
    commits_complete: bool
    rerun: dict[str, tuple[int, ...]]
    counts_after_rerun: dict[str, int]
    worker_log: str


@background.job("test_s3_pipeline.py")
def run_on_s3(tmp: Path) -> S3Runs:
    """Upload the landing zone to a moto server; run the pipeline on it through
    ``spark-submit.sh`` on a standalone cluster, then again on ``local[*]``."""
    landing = tmp / "landing"
    subprocess.run(
        [sys.executable, "-m", "devtools.sample", "--out", str(landing), "--hours", "14"],
        cwd=ROOT, check=True, capture_output=True,
    )
    write_hostile_landing(landing)
    files = sum(1 for p in landing.rglob("*") if p.is_file())
    with contextmanager(moto_endpoint)() as moto:
        s3 = moto.client("s3")
        for bucket in (LOGS, LAKE):
            s3.create_bucket(Bucket=bucket)
        uploaded = upload_tree(s3, landing, LOGS, "org/")
        args = [
            "pipeline", "--env", "test", "--no-detect",
            "--set", "s3.path_style_access=true",
            "--landing", f"s3a://{LOGS}/org", "--lakehouse", f"s3a://{LAKE}/lakehouse",
        ]
        small = {**moto.env(), "SPARK_DRIVER_MEMORY": "1g"}
        with standalone_cluster(tmp, moto.env()) as cluster:
            both = [start_submit([*args, "--master", cluster.url], small, tmp / "cluster.log"),
                    start_submit(args, small, tmp / "local.log")]
            done = [finish(proc, log) for proc, log in both]
            worker_log = cluster.worker_log.read_text()
        codes = [code for code, _, _ in done]
        assert 0 in codes, "neither pipeline run finished:\n" + "".join(e for _, _, e in done)
        first = [accounting(out) for _, out, _ in done]
        errors = [err for code, _, err in done if code != 0]
        counts = {t.name: delta_row_count(s3, LAKE, f"lakehouse/{t.name}") for t in TABLES}
        commits = moto.client("dynamodb").scan(TableName="trailwarden_delta_log")["Items"]
        complete = bool(commits) and all(c["complete"]["S"] == "true" for c in commits)
        rerun = accounting(submit(args, moto.env()))
        after = {t.name: delta_row_count(s3, LAKE, f"lakehouse/{t.name}") for t in TABLES}
    return S3Runs(landing, files, uploaded, first, codes, errors, counts, complete, rerun, after,
                  worker_log)


@pytest.mark.slow
def test_pipeline_on_s3_matches_local_disk_and_reruns_add_nothing(
    request: pytest.FixtureRequest, spark: SparkSession, tmp_path: Path
) -> None:
    runs: S3Runs = background.result(request, "test_s3_pipeline.py")
    local_conf = load_config("test", [f"landing={runs.landing}", f"lakehouse={tmp_path / 'lake'}"])
    local = {a.source: (a.files, a.files_skipped, a.records_read, a.rows_written, a.duplicates,
                        a.quarantined) for a in run_ingest(spark, local_conf, "local")}
    local_counts = {t.name: t.read(spark, local_conf["lakehouse"]).count() for t in TABLES}

    assert runs.uploaded == runs.files
    assert 0 in runs.codes, runs.errors  # at least one of the two runs at once finished
    for error in runs.errors:  # the other lost a commit race (which one depends on timing)
        assert error.startswith("trailwarden pipeline: ") and error.count("\n") == 1, error
    finished = [a for a, code in zip(runs.first, runs.codes, strict=True) if code == 0]
    if len(finished) == 1:
        assert finished[0] == local
    written = {s: sum(a.get(s, (0,) * 6)[3] for a in runs.first) for s in local}
    assert written == {s: counts[3] for s, counts in local.items()}  # each row written once
    assert {"cloudtrail", "vpcflow", "guardduty", "cloudtrail_digest", "unrecognized"} <= set(
        finished[0]
    )
    for source in ("cloudtrail", "vpcflow", "guardduty"):  # the hostile files' quarantined rows
        assert finished[0][source][5] == EXPECTED[source].quarantined
    assert "Asked to launch executor" in runs.worker_log  # the first run ran on the worker
    assert runs.counts == local_counts
    assert runs.counts[lakehouse.INGESTED_FILES.name] == runs.files
    assert runs.commits_complete
    assert runs.rerun == {}
    assert runs.counts_after_rerun == runs.counts
