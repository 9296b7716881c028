"""Small landing zones in the real AWS wire formats, written by tests into temporary folders."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
DAY = "2026/11/20"
CT_DIR = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{DAY}"
FLOW_DIR = f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/{DAY}"
GD_DIR = f"AWSLogs/{ACCOUNT}/GuardDuty/us-east-1/{DAY}"

V2_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
             "bytes start end action log-status")


def event(n: int, **overrides: Any) -> dict[str, Any]:
    """A CloudTrail management event by IAM user alice, numbered ``n``."""
    base = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE0001",
                         "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "accountId": ACCOUNT,
                         "accessKeyId": "AKIAEXAMPLEALICE0001", "userName": "alice"},
        "eventTime": f"2026-11-20T10:{n % 60:02d}:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": {"maxResults": 100},
        "responseElements": None,
        "requestID": f"req-{n}",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    base.update(overrides)
    return base


def finding(fid: str, updated: str, count: int) -> dict[str, Any]:
    """A GuardDuty crypto-mining finding in the documented export format."""
    return {
        "schemaVersion": "2.0", "accountId": ACCOUNT, "region": "us-east-1", "id": fid,
        "type": "CryptoCurrency:EC2/BitcoinTool.B", "severity": 8,
        "createdAt": "2026-11-20T14:20:00.000Z", "updatedAt": updated,
        "title": "EC2 instance is querying a domain associated with Bitcoin activity.",
        "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0abc"}},
        "service": {"serviceName": "guardduty", "detectorId": "d-1", "count": count,
                    "eventFirstSeen": "2026-11-20T14:10:00.000Z", "eventLastSeen": updated,
                    "action": {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
                        "connectionDirection": "OUTBOUND",
                        "remoteIpDetails": {"ipAddressV4": "141.94.96.144"},
                        "remotePortDetails": {"port": 7777}}}},
    }


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if rel.endswith(".gz") else data)


def records_file(events: list[Any]) -> bytes:
    return json.dumps({"Records": events}).encode()


def write_hostile_landing(root: Path) -> None:
    """Every input format and every bad-input case the ingest job must account for.

    Expected outcome, per source (see tests/test_ingest_job.py):
    cloudtrail: 20 good events in two files + the first file delivered again under another name
    (20 duplicates) + an NDJSON file (2 events, one EventBridge-wrapped, 1 duplicate of event 0)
    + a file with 5 records of which 4 are bad + 5 bad files (truncated gzip, empty, not JSON,
    Records of the wrong type, an empty gzip); a digest file and an empty Records file skipped.
    """
    good = [event(n) for n in range(20)]
    _write(root, f"{CT_DIR}/{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_aaaa.json.gz",
           records_file(good[:10]))
    _write(root, f"{CT_DIR}/{ACCOUNT}_CloudTrail_us-east-1_20261120T1005Z_bbbb.json",
           records_file(good[10:]))
    _write(root, f"{CT_DIR}/{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_redelivered.json.gz",
           records_file(good[:10]))
    wrapped = {"version": "0", "detail-type": "AWS API Call via CloudTrail",
               "source": "aws.ec2", "detail": event(20)}
    _write(root, "cloudtrail-exports/export-1.json",
           (json.dumps(event(21)) + "\n" + json.dumps(wrapped) + "\n"
            + json.dumps(event(0)) + "\n").encode())
    mixed = [event(30), {"eventID": "no-time"}, dict(event(31), eventTime="yesterday"), 42,
             {k: v for k, v in event(32).items() if k != "eventID"}]
    _write(root, f"{CT_DIR}/{ACCOUNT}_CloudTrail_us-east-1_20261120T1010Z_mixed.json.gz",
           records_file(mixed))
    truncated = gzip.compress(records_file(good), mtime=0)[:60]
    (root / CT_DIR / "truncated.json.gz").write_bytes(truncated)
    (root / CT_DIR / "zero-bytes.json.gz").write_bytes(b"")
    _write(root, f"{CT_DIR}/notjson.json", b"<html>403 Forbidden</html>\n")
    _write(root, f"{CT_DIR}/wrongtype.json.gz", b'{"Records": "none"}')
    _write(root, f"{CT_DIR}/emptygzip.json.gz", b"")
    _write(root, f"{CT_DIR}/norecords.json.gz", b'{"Records": []}')
    digest = {"awsAccountId": ACCOUNT, "digestStartTime": "2026-11-20T09:00:00Z",
              "digestEndTime": "2026-11-20T10:00:00Z", "logFiles": []}
    _write(root, f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/{DAY}/"
           f"{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20261120T100000Z.json.gz",
           json.dumps(digest).encode())

    flows = [f"2 {ACCOUNT} eni-0a1 172.31.1.{n} 141.94.96.144 4{n:04d} 7777 6 10 840 "
             f"1763632800 1763632860 ACCEPT OK" for n in range(6)]
    nodata = f"2 {ACCOUNT} eni-0a2 - - - - - - - 1763632800 1763632860 - NODATA"
    _write(root, f"{FLOW_DIR}/{ACCOUNT}_vpcflowlogs_us-east-1_fl-1_20261120T1000Z_1.log.gz",
           "\n".join([V2_HEADER, *flows, nodata, ""]).encode())
    custom = ("dstport srcaddr action dstaddr srcport log-status flow-direction\n"
              "443 172.31.1.9 ACCEPT 52.95.128.179 50000 OK egress\n"
              "22 203.0.113.50 REJECT 172.31.1.9 61000 OK ingress\n")
    _write(root, f"{FLOW_DIR}/{ACCOUNT}_vpcflowlogs_us-east-1_fl-2_20261120T1000Z_2.log.gz",
           custom.encode())
    bad = "\n".join([V2_HEADER, flows[0],  # a duplicate of an earlier record
                     flows[1].replace(" 7777 ", " 77777 "),  # port out of range
                     " ".join(flows[2].split()[:-1]),  # too few fields
                     flows[3] + " extra"]) + "\n"  # too many fields
    _write(root, f"{FLOW_DIR}/{ACCOUNT}_vpcflowlogs_us-east-1_fl-1_20261120T1005Z_3.log.gz",
           bad.encode())
    _write(root, f"{FLOW_DIR}/undocumented.log.gz", b"version srcaddr colour\n2 1.2.3.4 red\n")

    first = finding("f-1", "2026-11-20T14:20:00.000Z", 1)
    newer = finding("f-1", "2026-11-20T15:20:00.000Z", 5)
    _write(root, f"{GD_DIR}/2f0c6f1a-0000-4000-8000-000000000001.jsonl.gz",
           "\n".join(json.dumps(f) for f in (first, newer, {"id": "f-2"})).encode())
    _write(root, "README.txt", b"not a log file\n")


def with_event_time(e: dict[str, Any], when: str) -> dict[str, Any]:
    """A copy of ``e`` at another time (for late-data tests)."""
    out = copy.deepcopy(e)
    out["eventTime"] = when
    return out
