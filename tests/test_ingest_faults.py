"""Faults one file or record can carry, each isolated: a gzip bomb and an oversized file are
quarantined unread, event times out of bounds and records nested past ``ingest.max_nesting``
are quarantined per source, a malformed date folder is unrecognised, and a file re-delivered
with new content is read again without duplicating a row. Exact reasons, rows and per-file
accounting."""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from jobs import lakehouse
from jobs.ingest.landing import local_uri
from jobs.ingest.run import Accounting, run_ingest
from jobs.runtime.config import load_config
from jobs.runtime.frames import local_frame
from jobs.sources import CLOUDTRAIL, DNS, GUARDDUTY, VPCFLOW
from schemas.system import INGESTED_FILES
from tests.support.landing_fixtures import (
    ACCOUNT,
    CT_DIR,
    FLOW_DIR,
    GD_DIR,
    V2_HEADER,
    event,
    finding,
    records_file,
)

DNS_DIR = f"AWSLogs/{ACCOUNT}/vpcdnsquerylogs/vpc-0f/2026/11/20"
CT_FILE = f"{CT_DIR}/{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_times.json"
FUTURE = "is more than 1 day after the run started"
MAX_NESTING = 40
DEEPER = f"nested deeper than {MAX_NESTING} levels"
DEEP = '"__deep__"'  # replaced in a file's text by brackets nested the given levels deep
BRACKETS_UA = "Mozilla/5.0 " + "{[" * 3000 + "\\" + "]}" * 40  # one string: depth 0


def _deep(text: str, levels: int) -> str:
    return text.replace(DEEP, "[" * levels + "]" * levels)


def _nesting_lines() -> dict[str, str]:
    """Line-delimited files whose second line nests past Jackson's 1,000 levels (after the
    record's time and id), and a GuardDuty finding one level past ``MAX_NESTING``."""
    service = finding("g-deep", "2026-11-20T14:20:00.000Z", 1)["service"]
    return {
        "deep-lines.json": _deep(json.dumps(event(10, eventID="n-ok")) + "\n"
                                 + json.dumps(event(11, eventID="n-1100", tlsDetails=DEEP[1:-1]))
                                 + "\n", 1100),
        "nesting.jsonl": "\n".join([
            json.dumps(finding("g-n-ok", "2026-11-20T14:20:00.000Z", 1)),
            _deep(json.dumps({**finding("g-deep", "2026-11-20T14:20:00.000Z", 1),
                              "service": {**service, "additionalInfo": DEEP[1:-1]}}), 1100),
            _deep(json.dumps({**finding("g-41", "2026-11-20T14:20:00.000Z", 1),
                              "partition": DEEP[1:-1]}), MAX_NESTING),
        ]) + "\n",
        "nesting.log": _query("shallow.example.", "2026-11-20T14:00:00Z") + "\n" + _deep(
            _query("deep.example.", "2026-11-20T14:00:00Z")[:-1] + f', "srcids": {DEEP}}}', 1100),
    }


def _query(name: str, when: str) -> str:
    return json.dumps({"version": "1.100000", "account_id": ACCOUNT, "region": "us-east-1",
                       "vpc_id": "vpc-0f", "query_timestamp": when, "query_name": name,
                       "query_type": "A", "query_class": "IN", "rcode": "NOERROR",
                       "srcaddr": "172.31.35.149", "srcport": "40000", "transport": "UDP"})


def _flow(eni: str, start: int, end: int) -> str:
    return f"2 {ACCOUNT} {eni} 172.31.1.9 198.51.100.7 40000 443 6 10 840 {start} {end} ACCEPT OK"


def write_faults(root: Path) -> None:
    def put(rel: str, data: bytes) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    put(CT_FILE, records_file([
        event(1, eventID="t-1"), event(2, eventID="t-2", eventTime="1970-01-01T00:00:00Z"),
        event(3, eventID="t-3", eventTime="9999-12-31T23:59:59Z"),
        event(4, eventID="t-4", eventTime="+10000-01-01T00:00:00Z")]))
    put(f"{FLOW_DIR}/{ACCOUNT}_vpcflowlogs_us-east-1_fl-9_20261120T1000Z_t.log", "\n".join([
        V2_HEADER, _flow("eni-ok", 1763632800, 1763632860), _flow("eni-1970", 0, 60),
        _flow("eni-huge", 10**15, 10**15 + 60), _flow("eni-9999", 1763632800, 253402300799),
    ]).encode() + b"\n")
    put(f"{GD_DIR}/times.jsonl", "\n".join(json.dumps(f) for f in [
        finding("g-ok", "2026-11-20T14:20:00.000Z", 1),
        finding("g-9999", "9999-01-01T00:00:00.000Z", 1),
        {**finding("g-1970", "2026-11-20T14:20:00.000Z", 1), "createdAt": "1970-01-01T00:00:00Z"},
    ]).encode())
    put(f"{DNS_DIR}/{ACCOUNT}_vpcdnsquerylogs_vpc-0f_20261120T1000Z_t.log", "\n".join([
        _query("ok.example.", "2026-11-20T14:00:00Z"),
        _query("old.example.", "1970-01-01T00:00:01Z"),
    ]).encode())
    put(f"{CT_DIR}/bomb.json.gz", gzip.compress(b" " * (4 << 20), mtime=0))
    put(f"{CT_DIR}/oversized.json", records_file([event(n) for n in range(200)]))
    put(f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/13/45/baddate.json",
        records_file([event(5, eventID="t-5")]))
    put(f"{CT_DIR}/nesting.json", _deep(records_file([  # depth 1 + the brackets' levels
        event(7, eventID="n-40", requestParameters=DEEP[1:-1]),
        event(8, eventID="n-41", requestParameters={"a": DEEP[1:-1]}),
        event(9, eventID="n-ua", userAgent=BRACKETS_UA, requestParameters={"p": "{" * 2000}),
    ]).decode(), MAX_NESTING - 1).encode())
    put(f"{CT_DIR}/deepfile.json", _deep(records_file([
        event(12, eventID="n-file"), event(13, eventID="n-file-1100", tlsDetails=DEEP[1:-1]),
    ]).decode(), 1100).encode())
    lines = _nesting_lines()
    put(f"{CT_DIR}/deep-lines.json", lines["deep-lines.json"].encode())
    put(f"{GD_DIR}/nesting.jsonl", lines["nesting.jsonl"].encode())
    put(f"{DNS_DIR}/{ACCOUNT}_vpcdnsquerylogs_vpc-0f_20261120T1000Z_n.log",
        lines["nesting.log"].encode())


@pytest.fixture(scope="module")
def runs(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    tmp = tmp_path_factory.mktemp("faults")
    write_faults(tmp / "landing")
    conf = load_config("test", [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}",
                                "ingest.max_file_bytes=100000",
                                "ingest.max_decompressed_bytes=1048576",
                                f"ingest.max_nesting={MAX_NESTING}"])
    first = {a.source: a for a in run_ingest(spark, conf, "faults-1")}
    redelivered = tmp / "landing" / CT_FILE  # same key, new content: t-1 again and t-6
    redelivered.write_bytes(records_file([event(1, eventID="t-1"), event(6, eventID="t-6")]))
    os.utime(redelivered, (1_800_000_000, 1_800_000_000))
    second = {a.source: a for a in run_ingest(spark, conf, "faults-2")}
    return conf, first, second


def _rows(spark: SparkSession, conf: dict[str, Any], table: Any) -> list[Any]:
    return spark.read.format("delta").load(table.path(conf["lakehouse"])).collect()


def test_each_fault_is_quarantined_with_its_reason(
    spark: SparkSession, runs: tuple[Any, ...]
) -> None:
    conf, first, _ = runs
    assert first == {
        "cloudtrail": Accounting("cloudtrail", files=6, records_read=12, rows_written=4,
                                 quarantined=8),
        "vpcflow": Accounting("vpcflow", files=1, records_read=4, rows_written=1, quarantined=3),
        "guardduty": Accounting("guardduty", files=2, records_read=6, rows_written=2,
                                quarantined=4),
        "dns": Accounting("dns", files=2, records_read=4, rows_written=2, quarantined=2),
        "unrecognized": Accounting("unrecognized", files=1, records_read=1, quarantined=1),
    }
    got = sorted((r.source, Path(r.source_file).name, r.record_index, r.reason)
                 for r in _rows(spark, conf, lakehouse.QUARANTINE))
    ct, flows = Path(CT_FILE).name, f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-9_20261120T1000Z_t.log"
    assert got == sorted([
        ("cloudtrail", ct, 1, "event_time is before 2013-01-01"),
        ("cloudtrail", ct, 2, f"event_time {FUTURE}"),
        ("cloudtrail", ct, 3, f"event_time {FUTURE}"),
        ("cloudtrail", "bomb.json.gz", None,
         "gzip inflates past ingest.max_decompressed_bytes (1048576 bytes)"),
        ("cloudtrail", "oversized.json", None,
         "file is larger than ingest.max_file_bytes (100000 bytes)"),
        ("vpcflow", flows, 3, "start_time is before 2014-01-01"),
        ("vpcflow", flows, 4, "start is not a Unix time in the years 1970-9999"),
        ("vpcflow", flows, 5, f"end_time {FUTURE}"),
        ("guardduty", "times.jsonl", 2, f"updated_at {FUTURE}"),
        ("guardduty", "times.jsonl", 3, "created_at is before 2017-01-01"),
        ("dns", f"{ACCOUNT}_vpcdnsquerylogs_vpc-0f_20261120T1000Z_t.log", 2,
         "query_time is before 2020-01-01"),
        ("unrecognized", "baddate.json", None,
         "the delivery date in the path is not a valid /YYYY/MM/DD/ date"),
        ("cloudtrail", "nesting.json", 1, DEEPER),
        ("cloudtrail", "deepfile.json", 1, DEEPER),  # Jackson cannot split it: one record
        ("cloudtrail", "deep-lines.json", 2, DEEPER),
        ("guardduty", "nesting.jsonl", 2, DEEPER),
        ("guardduty", "nesting.jsonl", 3, DEEPER),
        ("dns", f"{ACCOUNT}_vpcdnsquerylogs_vpc-0f_20261120T1000Z_n.log", 2, DEEPER),
    ])
    keys = {t: sorted(r[0] for r in spark.read.format("delta").load(t.path(conf["lakehouse"]))
                      .select(k).collect())
            for t, k in ((VPCFLOW.table, "interface_id"), (GUARDDUTY.table, "finding_id"),
                         (DNS.table, "query_name"))}
    assert keys == {VPCFLOW.table: ["eni-ok"], GUARDDUTY.table: ["g-n-ok", "g-ok"],
                    DNS.table: ["ok.example.", "shallow.example."]}


def test_records_nested_too_deep_are_quarantined_and_the_rest_lands(
    spark: SparkSession, runs: tuple[Any, ...]
) -> None:
    conf, _, _ = runs
    events = {r.event_id: r for r in _rows(spark, conf, CLOUDTRAIL.table)
              if r.event_id.startswith("n-")}
    assert sorted(events) == ["n-40", "n-ok", "n-ua"]
    assert events["n-40"].request_parameters == "[" * 39 + "]" * 39  # exactly the limit
    assert events["n-ua"].user_agent == BRACKETS_UA  # brackets in strings do not count
    assert events["n-ua"].request_parameters == json.dumps({"p": "{" * 2000}, separators=(",", ":"))
    manifest = {Path(r.path).name: (r.status, r.records_read, r.rows_written, r.duplicates,
                                    r.quarantined, r.reason)
                for r in _rows(spark, conf, lakehouse.INGESTED_FILES)
                if r.run_id == "faults-1" and ("nesting" in r.path or "deep" in r.path
                                               or r.path.endswith("_n.log"))}
    assert manifest == {
        "nesting.json": ("ingested", 3, 2, 0, 1, None),
        "deepfile.json": ("ingested", 1, 0, 0, 1, None),
        "deep-lines.json": ("ingested", 2, 1, 0, 1, None),
        "nesting.jsonl": ("ingested", 3, 1, 0, 2, None),
        f"{ACCOUNT}_vpcdnsquerylogs_vpc-0f_20261120T1000Z_n.log": ("ingested", 2, 1, 0, 1, None),
    }
    raw = {(Path(r.source_file).name, r.record_index): r.raw
           for r in _rows(spark, conf, lakehouse.QUARANTINE) if r.reason == DEEPER}
    line = _nesting_lines()["deep-lines.json"].split("\n")[1]
    assert raw[("deep-lines.json", 2)] == line[:4096]  # ingest.raw_max_chars of its text
    assert json.loads(raw[("nesting.json", 1)])["eventID"] == "n-41"


def test_a_redelivered_file_is_read_again_and_lands_once(
    spark: SparkSession, runs: tuple[Any, ...]
) -> None:
    conf, _, second = runs
    assert second == {"cloudtrail": Accounting("cloudtrail", files=1, records_read=2,
                                               rows_written=1, duplicates=1)}
    events = sorted((r.event_id, r.run_id) for r in _rows(spark, conf, CLOUDTRAIL.table)
                    if r.event_id.startswith("t-"))
    assert events == [("t-1", "faults-1"), ("t-6", "faults-2")]
    manifest = sorted((r.run_id, r.status, r.records_read, r.rows_written, r.duplicates,
                       r.quarantined) for r in _rows(spark, conf, lakehouse.INGESTED_FILES)
                      if r.path.endswith(Path(CT_FILE).name))
    assert manifest == [("faults-1", "ingested", 4, 1, 0, 3), ("faults-2", "ingested", 2, 1, 1, 0)]
    assert run_ingest(spark, conf, "faults-3") == []


def test_refused_files_are_in_the_manifest_with_their_reason(
    spark: SparkSession, runs: tuple[Any, ...]
) -> None:
    conf, _, _ = runs
    refused = sorted((Path(r.path).name, r.status, r.records_read, r.quarantined, r.reason)
                     for r in _rows(spark, conf, lakehouse.INGESTED_FILES) if r.reason)
    assert refused == [
        ("baddate.json", "quarantined", 1, 1,
         "the delivery date in the path is not a valid /YYYY/MM/DD/ date"),
        ("bomb.json.gz", "quarantined", 1, 1,
         "gzip inflates past ingest.max_decompressed_bytes (1048576 bytes)"),
        ("oversized.json", "quarantined", 1, 1,
         "file is larger than ingest.max_file_bytes (100000 bytes)"),
    ]


def test_a_manifest_from_before_the_per_file_columns_gains_them(
    spark: SparkSession, tmp_path: Path
) -> None:
    old = StructType([f for f in INGESTED_FILES.fields
                      if f.name in ("path", "source", "size", "modified_at", "status", "run_id",
                                    "ingested_at")])
    conf = load_config("test", [f"landing={tmp_path / 'landing'}",
                                f"lakehouse={tmp_path / 'lake'}"])
    put = tmp_path / "landing" / CT_DIR / "a.json"
    put.parent.mkdir(parents=True)
    put.write_bytes(records_file([event(1, eventID="old-1")]))
    seen = datetime.fromtimestamp(put.stat().st_mtime, tz=UTC)
    local_frame(spark, [(local_uri(str(put)), "cloudtrail", put.stat().st_size, seen, "ingested",
                         "before", seen)], old).write.format("delta").save(
        lakehouse.INGESTED_FILES.path(conf["lakehouse"]))

    assert run_ingest(spark, conf, "after-upgrade") == []  # the old row still names the file
    put.write_bytes(records_file([event(1, eventID="old-1"), event(2, eventID="old-2")]))
    assert {a.source: a.rows_written for a in run_ingest(spark, conf, "next")} == {"cloudtrail": 2}
    rows = sorted((r.run_id, r.records_read) for r in _rows(spark, conf, lakehouse.INGESTED_FILES))
    assert rows == [("before", None), ("next", 2)]
