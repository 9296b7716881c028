"""Amazon Security Lake input: the mission's CloudTrail calls and flow records, delivered once as
native CloudTrail and flow-log files and once as Security Lake OCSF Parquet (API Activity and
Network Activity), raise the same alerts: same ids, detections, entities and counts; lineage
points at the Security Lake objects; rows of another OCSF class are quarantined. The shared
sample's Security Lake region lands in silver with the default configuration."""

from __future__ import annotations

import gzip
import json
import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from devtools.sample import attack
from devtools.sample.flowlogs import V5_INDEX
from devtools.sample.ground_truth import ATTACK
from devtools.sample.ids import Clock, Ids
from devtools.sample.landscape import SECURITY_LAKE_SITE, V5_FIELDS
from devtools.sample.security_lake import (
    API_ACTIVITY,
    NETWORK_ACTIVITY,
    api_activity,
    network_activity,
    object_key,
    write_rows,
)
from jobs import lakehouse
from jobs.detect.run import run_detections
from jobs.enrich import Enrichment
from jobs.ingest.run import Accounting, run_ingest
from jobs.runtime.config import load_config
from jobs.sources import CLOUDTRAIL, VPCFLOW
from tests.support.sample_lake import SampleLake

DAY = date(2026, 11, 20)
ACCOUNT, REGION = ATTACK.account_id, ATTACK.region


def activity() -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The attack's CloudTrail events and flow records (field -> text)."""
    ids, clock = Ids(random.Random("security-lake")), Clock(DAY)
    events = [e for _, e in attack.cloudtrail_events(ids, clock)]
    flows = [{f: str(rec[V5_INDEX[f]]) for f in V5_FIELDS}
             for _, rec in attack.flows(ids, clock, V5_FIELDS)]
    return events, flows


def write_native(root: Path, events: list[dict[str, Any]], flows: list[dict[str, str]]) -> None:
    day = f"{REGION}/2026/11/20/{ACCOUNT}"
    ct = root / f"AWSLogs/{ACCOUNT}/CloudTrail/{day}_CloudTrail_{REGION}_20261120T1400Z_a.json.gz"
    ct.parent.mkdir(parents=True)
    ct.write_bytes(gzip.compress(json.dumps({"Records": events}).encode(), mtime=0))
    name = f"{day}_vpcflowlogs_{REGION}_fl-1_20261120T1400Z_a.log.gz"
    fl = root / f"AWSLogs/{ACCOUNT}/vpcflowlogs/{name}"
    fl.parent.mkdir(parents=True)
    lines = [" ".join(V5_FIELDS)] + [" ".join(f[k] for k in V5_FIELDS) for f in flows]
    fl.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))


API_KEY = object_key("CLOUD_TRAIL_MGMT", REGION, ACCOUNT, "2026-11-20", "0f1e2d3c")
NET_KEY = object_key("VPC_FLOW", REGION, ACCOUNT, "2026-11-20", "4b5a6978")


def write_security_lake(root: Path, events: list[dict[str, Any]],
                        flows: list[dict[str, str]]) -> None:
    foreign = dict(api_activity(events[0]), class_uid=3002)  # an Authentication row
    write_rows(root / API_KEY, [api_activity(e) for e in events] + [foreign], API_ACTIVITY)
    write_rows(root / NET_KEY, [network_activity(f) for f in flows], NETWORK_ACTIVITY)


@pytest.fixture(scope="module")
def lakes(spark: SparkSession, enrichment: Enrichment,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, dict]]:
    events, flows = activity()
    out = {}
    for name, write in (("native", write_native), ("security_lake", write_security_lake)):
        tmp = tmp_path_factory.mktemp(name)
        write(tmp / "landing", events, flows)
        conf = load_config("test", [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}"])
        accounting = {a.source: a for a in run_ingest(spark, conf, "run-1")}
        run_detections(spark, conf, "run-1", enrichment)
        out[name] = (conf, accounting)
    return out


def _alerts(spark: SparkSession, conf: dict) -> dict[str, tuple]:
    rows = lakehouse.by_name("gold/alerts").read(spark, conf["lakehouse"]).collect()
    return {r.alert_id: (r.detection_name, r.severity, r.event_count, r.principal_arn,
                         r.first_seen, r.last_seen, sorted((e.type, e.value) for e in r.entities))
            for r in rows}


def test_every_row_is_accounted_for(lakes: dict[str, tuple[dict, dict]]) -> None:
    events, flows = activity()
    native, lake = lakes["native"][1], lakes["security_lake"][1]
    assert native["cloudtrail"].rows_written == lake["cloudtrail"].rows_written == len(events)
    assert lake["cloudtrail"] == Accounting("cloudtrail", files=1, records_read=len(events) + 1,
                                            rows_written=len(events), quarantined=1)
    assert lake["vpcflow"] == Accounting("vpcflow", files=1, records_read=len(flows),
                                         rows_written=native["vpcflow"].rows_written)


def test_security_lake_raises_the_same_alerts(
    spark: SparkSession, lakes: dict[str, tuple[dict, dict]]
) -> None:
    native = _alerts(spark, lakes["native"][0])
    lake = _alerts(spark, lakes["security_lake"][0])
    assert len(native) >= 5
    assert lake == native


def test_rows_keep_the_security_lake_lineage_and_the_native_values(
    spark: SparkSession, lakes: dict[str, tuple[dict, dict]]
) -> None:
    conf_native, conf_lake = lakes["native"][0], lakes["security_lake"][0]
    columns = ["event_id", "event_time", "event_name", "event_source", "principal_arn",
               "access_key_id", "user_identity_type", "source_ip", "user_agent", "aws_region",
               "account_id", "error_code", "read_only", "is_root", "request_parameters"]
    native = CLOUDTRAIL.table.read(spark, conf_native["lakehouse"])
    lake = CLOUDTRAIL.table.read(spark, conf_lake["lakehouse"])
    by_id = {r.event_id: r for r in native.select(*columns).collect()}
    for row in lake.select(*columns, "source_file", "record_index").collect():
        assert row.source_file.endswith(API_KEY)
        expected = by_id[row.event_id]
        assert {c: row[c] for c in columns if c != "request_parameters"} == {
            c: expected[c] for c in columns if c != "request_parameters"}
        assert json.loads(row.request_parameters or "null") == json.loads(
            expected.request_parameters or "null")
    quarantined = lakehouse.QUARANTINE.read(spark, conf_lake["lakehouse"]).collect()
    assert [(Path(q.source_file).name, q.reason) for q in quarantined] == [
        (Path(API_KEY).name, "OCSF row is not API Activity (class_uid 6003)")]
    flows = VPCFLOW.table.read(spark, conf_lake["lakehouse"]).collect()
    assert {Path(r.source_file).name for r in flows} == {Path(NET_KEY).name}


def test_the_samples_security_lake_region_lands_in_silver_with_its_lineage(
    spark: SparkSession, sample_lake: SampleLake
) -> None:
    lake = sample_lake.stage1().conf["lakehouse"]
    account, region = SECURITY_LAKE_SITE
    for source, folder, region_column, count in (
        (CLOUDTRAIL, "CLOUD_TRAIL_MGMT", "aws_region", 287),
        (VPCFLOW, "VPC_FLOW", "region", 368),
    ):
        prefix = f"/aws/{folder}/2.0/region={region}/accountId={account}/eventDay=20261120/"
        site = source.table.read(spark, lake).where(
            (F.col("account_id") == account) & (F.col(region_column) == region))
        rows = site.select("source_file", "record_index", "run_id").collect()
        assert len(rows) == count  # the sample's summary: every row once, none native
        assert all(prefix in r.source_file and r.run_id == "run-1" for r in rows)
        by_file: dict[str, list[int]] = {}
        for r in rows:
            by_file.setdefault(r.source_file, []).append(r.record_index)
        assert len(by_file) == 24  # one object an hour
        assert all(sorted(i) == list(range(1, len(i) + 1)) for i in by_file.values())
        files = lakehouse.INGESTED_FILES.read(spark, lake).where(
            F.col("path").contains(prefix)).collect()
        assert {(f.source, f.status) for f in files} == {(source.name, "ingested")}
        assert sum(f.rows_written for f in files) == sum(f.records_read for f in files) == count
