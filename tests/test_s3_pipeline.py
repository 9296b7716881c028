"""The pipeline on S3 (a moto server on 127.0.0.1) and on a Spark standalone cluster (a master
and one worker on 127.0.0.1, ``tests/support/standalone.py``): the landing zone in one bucket, every
table in another, through ``spark-submit.sh``; the same accounting and tables as the same files
give on local disk; a rerun adds nothing.

The landing zone is one hour of the sample day (the files delivered 14:00-15:00 UTC, the
attack's hour, from ``devtools.sample.cli --hours 14``) plus the hostile landing zone of
``tests/support/landing_fixtures.py`` (every bad-input case), not all ~2,600 sample objects: the
per-object request cost against the moto server dominates, and this exercises every code path.
The first run goes through the cluster, so the executors on the worker parse and quarantine the
hostile files and write to S3; it lists the bucket in full (the first listing of the landing
zone). The bucket also notifies an SQS queue of every object it receives: the rerun goes
through ``local[*]`` and reads that queue instead of listing, so every message announces a file
the first run landed (a duplicate); it adds nothing and deletes every message.

The runs are a background job (``tests/support/background.py``, with its own moto server and
cluster):
they start when the suite is collected and work beside the in-process tests; the test then
ingests the same files from local disk in-process and compares.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs import lakehouse
from jobs.ingest.run import run_ingest
from jobs.runtime.config import load_config
from jobs.sources import CLOUDTRAIL, GUARDDUTY, VPCFLOW
from tests.support import background
from tests.support.landing_fixtures import write_hostile_landing
from tests.support.moto_server import moto_endpoint, upload_tree
from tests.support.s3_support import ROOT, accounting, delta_row_count, delta_rows, submit
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
    first: dict[str, tuple[int, ...]]
    counts: dict[str, int]
    commits_complete: bool
    rerun: dict[str, tuple[int, ...]]
    counts_after_rerun: dict[str, int]
    worker_log: str
    queue_after_rerun: tuple[str, str]  # messages visible, in flight
    discovery: list[dict[str, Any]]  # _system/discovery_runs after both runs


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
        s3, sqs = moto.client("s3"), moto.client("sqs")
        for bucket in (LOGS, LAKE):
            s3.create_bucket(Bucket=bucket)
        queue = sqs.create_queue(QueueName="tw-landing")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=LOGS, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        uploaded = upload_tree(s3, landing, LOGS, "org/")
        args = [
            "pipeline", "--env", "test", "--no-detect",
            "--set", "s3.path_style_access=true",
            "--landing", f"s3a://{LOGS}/org", "--lakehouse", f"s3a://{LAKE}/lakehouse",
        ]
        with standalone_cluster(tmp, moto.env()) as cluster:
            first = accounting(submit(
                [*args, "--master", cluster.url],
                {**moto.env(), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_DRIVER_MEMORY": "1g"},
            ))
            worker_log = cluster.worker_log.read_text()
        counts = {t.name: delta_row_count(s3, LAKE, f"lakehouse/{t.name}") for t in TABLES}
        commits = moto.client("dynamodb").scan(TableName="trailwarden_delta_log")["Items"]
        complete = bool(commits) and all(c["complete"]["S"] == "true" for c in commits)
        rerun = accounting(submit([*args, "--set", f"s3.notifications.queue_url={queue}"],
                                  moto.env()))
        after = {t.name: delta_row_count(s3, LAKE, f"lakehouse/{t.name}") for t in TABLES}
        left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        discovery = delta_rows(f"s3a://{LAKE}/lakehouse/{lakehouse.DISCOVERY_RUNS.name}",
                               moto.env())
    return S3Runs(landing, files, uploaded, first, counts, complete, rerun, after, worker_log,
                  (left["ApproximateNumberOfMessages"],
                   left["ApproximateNumberOfMessagesNotVisible"]), discovery)


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
    assert runs.first == local
    assert {"cloudtrail", "vpcflow", "guardduty", "cloudtrail_digest", "unrecognized"} <= set(
        runs.first
    )
    for source in ("cloudtrail", "vpcflow", "guardduty"):  # the hostile files' quarantined rows
        assert runs.first[source][5] == EXPECTED[source].quarantined
    assert "Asked to launch executor" in runs.worker_log  # the first run ran on the worker
    assert runs.counts == local_counts
    assert runs.counts[lakehouse.INGESTED_FILES.name] == runs.files
    assert runs.commits_complete
    assert runs.rerun == {}
    assert runs.counts_after_rerun == runs.counts
    assert runs.queue_after_rerun == ("0", "0")
    found = sorted((r["mode"], r["full_listing"], r["files_found"], r["messages"],
                    r["test_events"], r["messages_deleted"]) for r in runs.discovery)
    # the first run lists all; the rerun reads one message per object and S3's test event
    assert found == [("listing", True, runs.files, 0, 0, 0),
                     ("notifications", False, runs.files, runs.files + 1, 1, runs.files + 1)]
