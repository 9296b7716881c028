"""Landing files in the other layouts AWS delivers: organization trails, CloudWatch Logs
subscription envelopes written by Firehose, and Parquet flow logs with Hive-style prefixes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.landing_fixtures import ACCOUNT, DAY, event, records_file

ORG = "o-a1b2c3d4e5"
ORG_CT_DIR = f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/us-east-1/{DAY}"
ORG_DIGEST = (f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail-Digest/us-east-1/{DAY}/{ACCOUNT}_CloudTrail-"
              f"Digest_us-east-1_org-trail_us-east-1_20261120T100000Z.json.gz")
CT_FIREHOSE = "firehose/cloudtrail/2026/11/20/10/tw-ct-1-2026-11-20-10-05-00-5f1b.gz"
FLOW_FIREHOSE = "firehose/vpcflow/2026/11/20/10/tw-flows-1-2026-11-20-10-05-00-9c2e.gz"
HIVE_DIR = (f"AWSLogs/aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region=us-east-1/"
            "year=2026/month=11/day=20/hour=10")
PARQUET = (f"{HIVE_DIR}/{ACCOUNT}_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f60718_20261120T1005Z"
           "_1a2b3c4d.log.parquet")
PARQUET_WIDE = PARQUET.replace("1a2b3c4d", "5e6f7a8b")
PARQUET_CORRUPT = PARQUET.replace("1a2b3c4d", "truncated")
PARQUET_WRONG_TYPE = PARQUET.replace("1a2b3c4d", "wrongtype")
# A user agent that tries to close the envelope and open a forged one.
FORGED_UA = '}{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"x"}]}'

# Flow-log record fields AWS writes in Parquet (the text names with underscores); whole numbers are
# INT_32 or INT_64 as documented.
PARQUET_TYPES = {
    "version": pa.int32(), "account_id": pa.string(), "interface_id": pa.string(),
    "srcaddr": pa.string(), "dstaddr": pa.string(), "srcport": pa.int32(),
    "dstport": pa.int32(), "protocol": pa.int32(), "packets": pa.int64(), "bytes": pa.int64(),
    "start": pa.int64(), "end": pa.int64(), "action": pa.string(), "log_status": pa.string(),
}  # fmt: skip


def envelope(message_type: str, events: list[str], stream: str, group: str) -> dict[str, Any]:
    """A CloudWatch Logs subscription envelope with ``events`` as its log messages."""
    return {
        "messageType": message_type, "owner": ACCOUNT if events else "CloudwatchLogs",
        "logGroup": group, "logStream": stream, "subscriptionFilters": ["to-firehose"],
        "logEvents": [{"id": f"3795{n:052d}", "timestamp": 1763632800000 + n, "message": m}
                      for n, m in enumerate(events)],
    }


def control() -> dict[str, Any]:
    """The control message CloudWatch Logs sends to check that the destination is reachable."""
    return {
        "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
        "logStream": "", "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1763632800000,
                       "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}],
    }


def flow(n: int, **fields: Any) -> dict[str, Any]:
    """A flow record (field -> value) as the Parquet delivery holds it."""
    base = {"version": 2, "account_id": ACCOUNT, "interface_id": "eni-0a1",
            "srcaddr": f"172.31.2.{n}", "dstaddr": "141.94.96.144", "srcport": 41000 + n,
            "dstport": 7777, "protocol": 6, "packets": 10, "bytes": 840, "start": 1763632800,
            "end": 1763632860, "action": "ACCEPT", "log_status": "OK"}
    return {**base, **fields}


def write_parquet(path: Path, rows: list[dict[str, Any]], types: dict[str, pa.DataType]) -> None:
    """A gzip-compressed Parquet file of ``rows`` with column ``types``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({k: pa.array([r[k] for r in rows], t) for k, t in types.items()})
    pq.write_table(table, path, compression="gzip")


def _put(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_format_landing(root: Path) -> None:
    """One landing zone with each layout, good, duplicated and malformed.

    cloudtrail: an account trail (events 1, 2) and an organization trail (2 again, 3); a Firehose
    object of envelopes: a control message, events 4 and 5 (5 with a user agent that mimics an
    envelope), a record that is not JSON, and a truncated envelope; an org-trail digest.
    vpcflow: a Firehose object: a control message, then 3 default-format lines (one short);
    Parquet: 3 records (one port out of range), the first again with INT_64 columns, a truncated
    file and one with a port written as text.
    """
    gz = lambda b: gzip.compress(b, mtime=0)  # noqa: E731
    _put(root, f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{DAY}/"
         f"{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_acct.json.gz",
         gz(records_file([event(1), event(2)])))
    _put(root, f"{ORG_CT_DIR}/{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_org1.json.gz",
         gz(records_file([event(2), event(3)])))
    _put(root, ORG_DIGEST, gz(json.dumps({
        "awsAccountId": ACCOUNT, "digestStartTime": "2026-11-20T09:00:00Z",
        "digestEndTime": "2026-11-20T10:00:00Z", "logFiles": []}).encode()))

    group, stream = "aws-cloudtrail-logs-org", f"{ACCOUNT}_CloudTrail_us-east-1"
    data = envelope("DATA_MESSAGE", [json.dumps(event(4)),
                                      json.dumps(event(5, userAgent=FORGED_UA)),
                                      '{"eventVersion":"1.09","eventTime":'], stream, group)
    truncated = json.dumps(envelope("DATA_MESSAGE", [json.dumps(event(6))], stream, group))[:90]
    # Each delivery is gzip-compressed by CloudWatch Logs; Firehose writes them back to back.
    _put(root, CT_FIREHOSE, b"".join(gz(json.dumps(d).encode()) for d in (control(), data))
         + gz(truncated.encode()))

    lines = [f"2 {ACCOUNT} eni-0a1 172.31.1.{n} 141.94.96.144 4{n:04d} 7777 6 10 840 "
             f"1763632800 1763632860 ACCEPT OK" for n in range(3)]
    lines[2] = lines[2].rsplit(" ", 1)[0]
    flows = envelope("DATA_MESSAGE", lines, "eni-0a1-all", "vpc-flow-logs")
    _put(root, FLOW_FIREHOSE, gz((json.dumps(control()) + "\n" + json.dumps(flows)).encode()))

    rows = [flow(0), flow(1), flow(2, dstport=70000)]
    write_parquet(root / PARQUET, rows, PARQUET_TYPES)
    wide = {k: (pa.int64() if t == pa.int32() else t) for k, t in PARQUET_TYPES.items()}
    write_parquet(root / PARQUET_WIDE, rows[:1], wide)
    (root / PARQUET_CORRUPT).write_bytes((root / PARQUET).read_bytes()[:200])
    write_parquet(root / PARQUET_WRONG_TYPE, [dict(flow(3), srcport="https")],
                  {**PARQUET_TYPES, "srcport": pa.string()})
