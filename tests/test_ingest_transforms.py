"""The pure ingest transforms on tiny in-memory files: exact rows, types and reasons."""

from __future__ import annotations

import json
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.ingest.nesting import depth_sql, limit_nesting
from jobs.runtime.frames import local_frame
from jobs.sources import GUARDDUTY, VPCFLOW
from jobs.sources.cloudtrail import normalize_records
from jobs.sources.guardduty import normalize_findings
from jobs.sources.json_records import split_records
from jobs.sources.vpcflow import parse_lines, split_lines

NOW = datetime(2026, 11, 20, 15, 0, 0)


def files(spark: SparkSession, *contents: tuple[str, str]) -> DataFrame:
    return local_frame(spark, list(contents), "source_file string, value string")


ROOT_EVENT = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "AKIAEXAMPLEROOTKEY01",
    },
    "eventTime": "2026-11-20T14:05:00Z",
    "eventSource": "ec2.amazonaws.com",
    "eventName": "ImportKeyPair",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "167.99.54.10",
    "userAgent": "aws-sdk-go/1.44.298 (go1.20.6; linux; amd64)",
    "requestParameters": {"keyName": "deployer", "publicKeyMaterial": "<sensitiveDataRemoved>"},
    "responseElements": {"keyPairId": "key-0a1b2c3d4e5f60718", "keyName": "deployer"},
    "requestID": "r-1",
    "eventID": "ev-1",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}


def test_delivery_file_is_split_into_records_with_their_index(spark: SparkSession) -> None:
    doc = json.dumps({"Records": [ROOT_EVENT, dict(ROOT_EVENT, eventID="ev-2")]})
    rows = split_records(files(spark, ("f1", doc)), 100).orderBy("record_index").collect()
    assert [(r.record_index, json.loads(r.record)["eventID"], r.file_reason) for r in rows] == [
        (0, "ev-1", None),
        (1, "ev-2", None),
    ]


def test_file_level_outcomes(spark: SparkSession) -> None:
    digest = json.dumps({"digestStartTime": "2026-11-20T13:00:00Z", "logFiles": []})
    envelope = json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": ROOT_EVENT})
    out = split_records(
        files(
            spark,
            ("empty", "  \n"),
            ("notjson", "hello\nworld"),
            ("wrongtype", '{"Records": {"eventID": "x"}}'),
            ("digest", digest),
            ("norecords", '{"Records": []}'),
            ("ndjson", json.dumps(ROOT_EVENT) + "\n\n" + envelope + "\n"),
        ),
        100,
    )
    got = {(r.source_file, r.record_index, r.file_reason) for r in out.collect()}
    assert got == {
        ("empty", None, "empty file"),
        ("notjson", None, "file is not JSON"),
        ("wrongtype", None, "Records is not an array of events"),
        ("digest", None, "skipped: CloudTrail digest file"),
        ("norecords", None, "skipped: no records"),
        ("ndjson", 1, None),
        ("ndjson", 3, None),
    }
    unwrapped = out.where("source_file = 'ndjson' AND record_index = 3").first().record
    assert json.loads(unwrapped)["eventID"] == "ev-1"


def test_normalize_types_a_root_event(spark: SparkSession) -> None:
    records = local_frame(
        spark,
        [("f1", 0, json.dumps(ROOT_EVENT), None)],
        "source_file string, record_index bigint, record string, file_reason string",
    )
    row = normalize_records(records, "run-1", F.lit(NOW)).first()
    assert row.reason is None
    assert (row.event_id, row.event_name, row.account_id, row.aws_region) == (
        "ev-1", "ImportKeyPair", "111122223333", "us-east-1")
    assert row.event_time == datetime(2026, 11, 20, 14, 5)
    assert str(row.event_date) == "2026-11-20"
    assert (row.is_root, row.read_only, row.management_event) == (True, False, True)
    assert row.access_key_id == "AKIAEXAMPLEROOTKEY01"
    assert json.loads(row.request_parameters) == ROOT_EVENT["requestParameters"]
    assert json.loads(row.response_elements)["keyPairId"] == "key-0a1b2c3d4e5f60718"
    assert (row.source_file, row.record_index, row.run_id) == ("f1", 0, "run-1")


def test_hostile_records_get_a_reason(spark: SparkSession) -> None:
    bad = {
        "notobject": "42",
        "badjson": '{"eventID": "x", ',
        "notime": json.dumps({"eventID": "x"}),
        "badtime": json.dumps({"eventID": "x", "eventTime": "yesterday"}),
        "noid": json.dumps({"eventTime": "2026-11-20T14:05:00Z"}),
        # a wrong JSON type in one field types that field as null, not the whole record
        "wrongtype": json.dumps(dict(ROOT_EVENT, userIdentity="root", readOnly="maybe")),
    }
    records = local_frame(
        spark,
        [(k, 0, v, None) for k, v in bad.items()],
        "source_file string, record_index bigint, record string, file_reason string",
    )
    got = {r.source_file: (r.reason, r.principal_arn, r.read_only)
           for r in normalize_records(records, "r", F.lit(NOW)).collect()}
    assert got == {
        "notobject": ("record is not a JSON object", None, None),
        "badjson": ("record is not valid JSON", None, None),
        "notime": ("missing eventTime", None, None),
        "badtime": ("eventTime does not parse", None, None),
        "noid": ("missing eventID", None, None),
        "wrongtype": (None, None, None),
    }


def test_flow_fields_are_mapped_by_header_name_in_any_order(spark: SparkSession) -> None:
    v2 = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
          "bytes start end action log-status\n"
          "2 111122223333 eni-1 172.31.1.5 141.94.96.144 40000 7777 6 10 840 1763647200 "
          "1763647260 ACCEPT OK\n"
          "2 111122223333 eni-1 - - - - - - - 1763647200 1763647260 - NODATA\n")
    reordered = ("dstport srcaddr action dstaddr srcport flow-direction log-status\n"
                 "7777 172.31.1.5 ACCEPT 141.94.96.144 40000 egress OK\n")
    lines = split_lines(files(spark, ("v2", v2), ("custom", reordered)), 100)
    rows = {(r.source_file, r.record_index): r
            for r in parse_lines(lines, "r", F.lit(NOW)).collect()}
    first = rows[("v2", 2)]
    assert (first.srcaddr, first.dstaddr, first.srcport, first.dstport, first.protocol,
            first.bytes, first.action, first.log_status) == (
        "172.31.1.5", "141.94.96.144", 40000, 7777, 6, 840, "ACCEPT", "OK")
    assert first.start_time == datetime(2025, 11, 20, 14, 0)
    assert rows[("v2", 3)].log_status == "NODATA" and rows[("v2", 3)].srcaddr is None
    custom = rows[("custom", 2)]
    assert (custom.srcaddr, custom.dstaddr, custom.srcport, custom.dstport, custom.action,
            custom.flow_direction, custom.version, custom.reason) == (
        "172.31.1.5", "141.94.96.144", 40000, 7777, "ACCEPT", "egress", None, None)
    assert first.flow_id != custom.flow_id
    assert all(r.reason is None for r in rows.values())


def test_bad_flow_lines_and_headers_are_rejected_with_reasons(spark: SparkSession) -> None:
    text = ("version srcaddr dstaddr srcport dstport protocol action log-status\n"
            "2 10.0.0.1 1.2.3.4 99999 22 6 ACCEPT OK\n"
            "2 10.0.0.1 1.2.3.4 1 22 6 ACCEPT\n"
            "2 10.0.0.1 1.2.3.4 1 22 6 ACCEPT OK extra\n"
            "2 10.0.0.1 1.2.3.4 x 22 6 ACCEPT OK\n"
            "2 10.0.0.1 1.2.3.4 1 22 300 MAYBE OK\n")
    lines = split_lines(
        files(spark, ("bad", text), ("hdr", "version srcaddr bogus\n2 a b\n"),
              ("dup", "srcaddr srcaddr\na b\n"), ("only", "version srcaddr\n")),
        100,
    )
    got = {(r.source_file, r.record_index): r.reason
           for r in parse_lines(lines, "r", F.lit(NOW)).collect()}
    assert got == {
        ("bad", 2): "srcport out of range",
        ("bad", 3): "expected 8 fields, found 7",
        ("bad", 4): "expected 8 fields, found 9",
        ("bad", 5): "srcport is not a number",
        ("bad", 6): "protocol out of range; action is not one of ACCEPT/REJECT",
        ("hdr", None): "header names undocumented field(s): bogus",
        ("dup", None): "header names a field more than once",
        ("only", None): "skipped: no records",
    }


def test_guardduty_finding_is_typed(spark: SparkSession) -> None:
    finding = {
        "id": "f-1", "type": "CryptoCurrency:EC2/BitcoinTool.B", "severity": 8,
        "accountId": "111122223333", "region": "us-east-1",
        "createdAt": "2026-11-20T14:20:00.000Z", "updatedAt": "2026-11-20T14:25:00.000Z",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}},
        "service": {"count": 4, "action": {"networkConnectionAction": {
            "remoteIpDetails": {"ipAddressV4": "141.94.96.144"},
            "remotePortDetails": {"port": 7777}}}},
    }
    records = local_frame(
        spark,
        [("g", 1, json.dumps(finding), None), ("g", 2, '{"id": "f-2", "type": "x"}', None)],
        "source_file string, record_index bigint, record string, file_reason string",
    )
    rows = {r.record_index: r for r in normalize_findings(records, "r", F.lit(NOW)).collect()}
    good = rows[1]
    assert (good.finding_id, good.severity, good.severity_label, good.instance_id,
            good.remote_ip, good.remote_port, good.finding_count, good.reason) == (
        "f-1", 8.0, "high", "i-0abc", "141.94.96.144", 7777, 4, None)
    assert rows[2].reason == "updatedAt missing or does not parse"


def test_nesting_depth_counts_brackets_outside_strings_only(spark: SparkSession) -> None:
    texts = {
        "scalar": '"x"', "empty": "{}", "three": '{"a": [{"b": 1}], "c": []}',
        "strings": json.dumps({"ua": "{[" * 3000, "q": "]}" * 20 + '"{'}),
        "escapes": r'{"a": "\\", "b": [["x\"[[", "\\\"{"]]}',
        "chunks": "[" * 5000 + "]" * 5000,  # across the 4,096-bracket chunks
        "unbalanced": "]]}[{",
    }
    got = dict(local_frame(spark, list(texts.items()), "name string, text string")
               .select("name", F.expr(depth_sql("text"))).collect())
    assert got == {"scalar": 0, "empty": 1, "three": 3, "strings": 1, "escapes": 3,
                   "chunks": 5000, "unbalanced": 0}


def test_limit_nesting_quarantines_records_past_the_limit_only(spark: SparkSession) -> None:
    def deep(levels: int) -> str:
        return "[" * levels + "]" * levels

    rows = [  # source_file (case), record_index, record, reason, finding_json
        ("at limit", 1, None, None, deep(3)),
        ("past limit", 2, None, None, deep(4)),
        ("bad and past", 3, deep(4), "record is not valid JSON", None),
        ("bad", 4, "[", "record is not valid JSON", None),
        ("file row", None, deep(9), "file is not JSON", None),
        ("skipped", 5, deep(9), "skipped: CloudWatch Logs control message", None),
        ("in strings", 6, None, None, json.dumps(["{" * 10, "[[[[["])),
    ]
    parsed = local_frame(spark, rows, "source_file string, record_index bigint, record string,"
                                      " reason string, finding_json string")
    got = {r.source_file: (r.reason, r.record)
           for r in limit_nesting(parsed, GUARDDUTY, 3).collect()}
    assert got == {
        "at limit": (None, None),
        "past limit": ("nested deeper than 3 levels", deep(4)),
        "bad and past": ("nested deeper than 3 levels", deep(4)),
        "bad": ("record is not valid JSON", "["),
        "file row": ("file is not JSON", deep(9)),
        "skipped": ("skipped: CloudWatch Logs control message", deep(9)),
        "in strings": (None, None),
    }
    assert limit_nesting(parsed, VPCFLOW, 3) is parsed  # not a JSON source
