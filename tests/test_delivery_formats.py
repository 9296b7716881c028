"""Organization trails, Firehose-delivered CloudWatch Logs envelopes and Parquet flow logs with
Hive-style prefixes, in one landing zone beside the account-level layouts: classification, the
exact accounting, each quarantine reason, lineage, and a rerun that adds nothing. The shared
sample's Firehose objects land in silver with the default configuration."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from devtools.sample.landscape import FIREHOSE_SITE
from jobs import lakehouse
from jobs.ingest.landing import classify
from jobs.ingest.run import Accounting, run_ingest
from jobs.runtime.config import load_config
from jobs.sources import CLOUDTRAIL, SOURCES, VPCFLOW
from tests.support.format_fixtures import (
    CT_FIREHOSE,
    FLOW_FIREHOSE,
    FORGED_UA,
    ORG_CT_DIR,
    ORG_DIGEST,
    PARQUET,
    PARQUET_CORRUPT,
    PARQUET_WIDE,
    PARQUET_WRONG_TYPE,
    write_format_landing,
)
from tests.support.landing_fixtures import event
from tests.support.sample_lake import FIRST_RUN, SampleLake


@pytest.fixture(scope="module")
def landed(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("formats")
    write_format_landing(tmp / "landing")
    # The default ingest.extra_prefixes hold firehose/cloudtrail/ and firehose/vpcflow/.
    conf = load_config("test", [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}"])
    return conf, {a.source: a for a in run_ingest(spark, conf, "run-1")}


def test_each_layout_is_classified_to_its_source() -> None:
    extra = {"cloudtrail": ("firehose/cloudtrail/",), "vpcflow": ("firehose/vpcflow/",)}
    got = {rel: classify(f"s3a://logs/{rel}", SOURCES, extra) for rel in (
        f"{ORG_CT_DIR}/x.json.gz", ORG_DIGEST, CT_FIREHOSE, FLOW_FIREHOSE, PARQUET)}
    assert got == {f"{ORG_CT_DIR}/x.json.gz": "cloudtrail", ORG_DIGEST: "cloudtrail_digest",
                   CT_FIREHOSE: "cloudtrail", FLOW_FIREHOSE: "vpcflow", PARQUET: "vpcflow"}
    assert classify(f"s3a://logs/{CT_FIREHOSE}", SOURCES) == "unrecognized"


def test_accounting_is_exact(landed: tuple[dict, dict]) -> None:
    _, got = landed
    assert got == {
        "cloudtrail": Accounting("cloudtrail", files=3, records_read=8, rows_written=5,
                                 duplicates=1, quarantined=2, records_skipped=1),
        "cloudtrail_digest": Accounting("cloudtrail_digest", files=1, files_skipped=1),
        "vpcflow": Accounting("vpcflow", files=5, records_read=9, rows_written=4, duplicates=1,
                              quarantined=4, records_skipped=1),
    }
    assert all(a.balanced() for a in got.values())
    assert "records_skipped=1" in got["cloudtrail"].line()


def test_runs_table_counts_the_control_messages(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    runs = lakehouse.INGEST_RUNS.read(spark, conf["lakehouse"]).collect()
    assert sorted((r.source, r.records_skipped) for r in runs) == [
        ("cloudtrail", 1), ("cloudtrail_digest", 0), ("vpcflow", 1)]


def test_every_bad_item_is_quarantined_with_its_reason(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    rows = lakehouse.QUARANTINE.read(spark, conf["lakehouse"]).collect()
    got = sorted((r.source, Path(r.source_file).name, r.record_index, r.reason) for r in rows)
    assert got == sorted([
        ("cloudtrail", Path(CT_FIREHOSE).name, 3, "record is not valid JSON"),
        ("cloudtrail", Path(CT_FIREHOSE).name, 4, "envelope is not valid JSON"),
        ("vpcflow", Path(FLOW_FIREHOSE).name, 3, "expected 14 fields, found 13"),
        ("vpcflow", Path(PARQUET).name, 3, "dstport out of range"),
        ("vpcflow", Path(PARQUET_CORRUPT).name, None, "file could not be read"),
        ("vpcflow", Path(PARQUET_WRONG_TYPE).name, None, "file could not be read"),
    ])


def test_events_keep_their_envelope_position_and_text(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    rows = {r.event_id: r for r in CLOUDTRAIL.table.read(spark, conf["lakehouse"]).collect()}
    assert sorted(rows) == [event(n)["eventID"] for n in range(1, 6)]
    by_file = {eid: (Path(r.source_file).parent.name, r.record_index) for eid, r in rows.items()}
    assert [by_file[event(n)["eventID"]] for n in (3, 4, 5)] == [("20", 1), ("10", 1), ("10", 2)]
    assert f"/{ORG_CT_DIR}/" in rows[event(3)["eventID"]].source_file
    forged = rows[event(5)["eventID"]]
    assert forged.user_agent == FORGED_UA
    assert json.loads(forged.record_json) == event(5, userAgent=FORGED_UA)


def test_flows_from_envelopes_and_parquet_are_typed(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    rows = VPCFLOW.table.read(spark, conf["lakehouse"]).collect()
    got = sorted((Path(r.source_file).name, r.record_index, r.srcaddr, r.srcport, r.protocol,
                  r.dstport, r.version) for r in rows)
    assert got == sorted([
        (Path(FLOW_FIREHOSE).name, 1, "172.31.1.0", 40000, 6, 7777, 2),
        (Path(FLOW_FIREHOSE).name, 2, "172.31.1.1", 40001, 6, 7777, 2),
        (Path(PARQUET).name, 1, "172.31.2.0", 41000, 6, 7777, 2),
        (Path(PARQUET).name, 2, "172.31.2.1", 41001, 6, 7777, 2),
    ])
    assert {str(r.event_date) for r in rows} == {"2025-11-20"}  # the date of start 1763632800
    assert not any(r.source_file.endswith(Path(PARQUET_WIDE).name) for r in rows)


def test_rerun_adds_nothing(spark: SparkSession, landed: tuple[dict, dict]) -> None:
    conf, _ = landed
    assert run_ingest(spark, conf, "run-2") == []


def test_the_samples_firehose_objects_land_in_silver_with_their_lineage(
    spark: SparkSession, sample_lake: SampleLake
) -> None:
    """The default configuration reads the shared sample's Firehose objects: every log event
    once, 0-based by position in its object (a control message takes the first)."""
    lake = sample_lake.stage1().conf["lakehouse"]
    account, region = FIREHOSE_SITE
    prefix = "/firehose/cloudtrail/2026/11/20/"
    site = CLOUDTRAIL.table.read(spark, lake).where(
        (F.col("account_id") == account) & (F.col("aws_region") == region))
    rows = site.select("source_file", "record_index", "run_id").collect()
    assert len(rows) == 474  # the sample's summary: every event once, none native
    assert all(prefix in r.source_file and r.run_id == FIRST_RUN for r in rows)
    by_file: dict[str, list[int]] = {}
    for r in rows:
        by_file.setdefault(r.source_file, []).append(r.record_index)
    assert len(by_file) == 89  # one object per 15 minutes with events
    starts = Counter(min(i) for i in by_file.values())
    assert starts == {0: 87, 1: 2}  # the two objects a control message opens
    assert all(sorted(i) == list(range(min(i), min(i) + len(i))) for i in by_file.values())
    files = lakehouse.INGESTED_FILES.read(spark, lake).where(
        F.col("path").contains(prefix)).collect()
    assert {(f.source, f.status, f.run_id) for f in files} == {
        ("cloudtrail", "ingested", FIRST_RUN)}
    assert len(files) == 89
    assert sum(f.rows_written for f in files) == sum(f.records_read for f in files) == 474
    assert sum(f.quarantined for f in files) == 0
    runs = lakehouse.INGEST_RUNS.read(spark, lake).where(F.col("run_id") == FIRST_RUN)
    assert {r.source: r.records_skipped for r in runs.collect()}["cloudtrail"] == 2
