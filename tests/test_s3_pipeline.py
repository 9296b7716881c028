"""The pipeline on S3 (a moto server on 127.0.0.1): the sample landing zone in one bucket, every
table in another, through ``spark-submit.sh``; the same accounting and tables as the same files
give on local disk; a rerun adds nothing.

To stay within the suite's time budget the buckets hold one hour of the sample day (the attack's
hour, 14:00-15:00 UTC: ~120 objects of every kind), not all ~2,600 objects: the per-object
request cost against the moto server dominates, and one hour exercises every code path.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs import tables
from jobs.config import load_config
from jobs.ingest.job import run_ingest
from jobs.sample_data import generate
from tests.moto_server import MotoEndpoint, moto_endpoint, upload_tree
from tests.s3_support import accounting, delta_row_count, submit

LOGS, LAKE = "tw-logs", "tw-lake"
HOUR = re.compile(r"_20261120T14|/GuardDuty/")
TABLES = (tables.CLOUDTRAIL, tables.VPC_FLOWS_TABLE, tables.GUARDDUTY, tables.QUARANTINE_TABLE,
          tables.INGESTED_FILES_TABLE)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    yield from moto_endpoint()


def one_hour(sample: Path, out: Path) -> int:
    """Copy the sample's files of the chosen hour (and its GuardDuty exports) to ``out``."""
    picked = [p for p in sample.rglob("*") if p.is_file() and HOUR.search(p.as_posix())]
    for path in picked:
        target = out / path.relative_to(sample)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return len(picked)


@pytest.mark.slow
def test_pipeline_on_s3_matches_local_disk_and_reruns_add_nothing(
    moto: MotoEndpoint, spark: SparkSession, tmp_path: Path
) -> None:
    generate(tmp_path / "sample")
    landing = tmp_path / "landing"
    files = one_hour(tmp_path / "sample", landing)
    local_conf = load_config("test", [f"landing={landing}", f"lakehouse={tmp_path / 'lake'}"])
    local = {a.source: (a.files, a.files_skipped, a.records_read, a.rows_written, a.duplicates,
                        a.quarantined) for a in run_ingest(spark, local_conf, "local")}
    local_counts = {
        name: spark.read.format("delta").load(tables.table_path(local_conf["lakehouse"], name))
        .count() for name in TABLES
    }
    s3 = moto.client("s3")
    for bucket in (LOGS, LAKE):
        s3.create_bucket(Bucket=bucket)
    assert upload_tree(s3, landing, LOGS, "org/") == files
    args = [
        "pipeline", "--env", "test", "--no-detect",
        "--set", "s3.path_style_access=true",
        "--landing", f"s3a://{LOGS}/org", "--lakehouse", f"s3a://{LAKE}/lakehouse",
    ]

    first = accounting(submit(args, moto.env()))

    assert first == local
    assert {"cloudtrail", "vpcflow", "guardduty", "cloudtrail_digest"} <= set(first)
    counts = {name: delta_row_count(s3, LAKE, f"lakehouse/{name}") for name in TABLES}
    assert counts == local_counts
    assert counts[tables.INGESTED_FILES_TABLE] == files
    commits = moto.client("dynamodb").scan(TableName="trailwarden_delta_log")["Items"]
    assert commits and all(c["complete"]["S"] == "true" for c in commits)

    rerun = submit(args, moto.env())
    assert accounting(rerun) == {}
    assert {name: delta_row_count(s3, LAKE, f"lakehouse/{name}") for name in TABLES} == counts
