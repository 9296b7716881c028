"""A miniature attack for the incident tests: its account, stolen key, resources and times;
builders of tiny silver and alert frames and rows; and its CloudTrail calls: a stolen key, a key
pair, an open group, two instances, and later the responder's clean-up calls. Its traffic, pool
lookups and alerts as frames are in ``tests/support/incident_frames.py``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructField, StructType

from jobs.runtime.frames import local_frame

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY = "AKIAAAAABBBBCCCCDDDD"
OTHER_KEY = "AKIAZZZZYYYYXXXXWWWW"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ATTACKER = "167.99.54.10"
POOL = "141.94.96.144"
KEY_NAME = "svc-maint"
KEY_PAIR_ID = "key-0123456789abcdef0"
GROUP = "sg-0123456789abcdef0"
RULE = "sgr-0123456789abcdef0"
VPC = "vpc-0a0a0a0a0a0a0a0a0"
INSTANCES = ("i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2")
ENIS = ("eni-0bbbbbbbbbbbbbbb1", "eni-0bbbbbbbbbbbbbbb2")
IPS = ("172.31.1.10", "172.31.1.11")
HOSTILE = "<img src=x onerror=alert(1)>$(touch /tmp/pwned)`id`"
UA = "aws-sdk-go/1.44.298 " + HOSTILE
T0 = datetime(2026, 11, 20, 13, 42, 17, tzinfo=UTC)  # recon
START = datetime(2026, 11, 20, 14, 2, tzinfo=UTC)
POOL_INTEL = {"mining_pool_domains": ["pool.supportxmr.com"],
              "mining_pool_domain_suffixes": ["nanopool.org", "supportxmr.com"]}
CDN_ALIAS = "updates.example-cdn.net."  # a CNAME to a nanopool host


def at(minutes: float, base: datetime = START) -> datetime:
    return base + timedelta(minutes=minutes)


def frame(spark: SparkSession, schema: StructType, rows: list[dict[str, Any]]) -> DataFrame:
    """A frame of ``schema`` (every column nullable) from partial dicts."""
    relaxed = StructType([StructField(f.name, f.dataType, True) for f in schema.fields])
    return local_frame(
        spark,
        [tuple(r.get(f.name) for f in schema.fields) for r in rows], relaxed
    )


def _numbered(prefix: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable event ids and record indexes: the same call gives the same rows."""
    return [
        e | {"event_id": f"ev-{prefix}-{n:03d}", "record_index": n} for n, e in enumerate(events)
    ]


def event(
    name: str,
    when: datetime,
    *,
    key: str = KEY,
    read_only: bool | None = False,
    source: str = "ec2.amazonaws.com",
    req: Any = None,
    resp: Any = None,
    error: str | None = None,
    principal: str = ROOT,
    ip: str = ATTACKER,
    is_root: bool = True,
) -> dict[str, Any]:
    return {
        "event_id": None,
        "event_time": when,
        "event_date": when.date(),
        "event_source": source,
        "event_name": name,
        "aws_region": REGION,
        "account_id": ACCOUNT,
        "principal_arn": principal,
        "access_key_id": key,
        "is_root": is_root,
        "user_identity_type": "Root" if is_root else "IAMUser",
        "source_ip": ip,
        "user_agent": UA,
        "read_only": read_only,
        "error_code": error,
        "request_parameters": None if req is None else json.dumps(req),
        "response_elements": None if resp is None else json.dumps(resp),
        "source_file": "s3://t/f.json.gz",
        "record_index": None,
        "ingested_at": when,
        "run_id": "r0",
    }


def attack_events() -> list[dict[str, Any]]:
    """Root key: an old call five days earlier, recon, then the chain."""
    items = [
        {
            "instanceId": iid,
            "instanceType": "c5.4xlarge",
            "imageId": "ami-0123456789abcdef0",
            "keyName": KEY_NAME,
            "vpcId": VPC,
            "privateIpAddress": ip,
            "networkInterfaceSet": {"items": [{"networkInterfaceId": eni, "privateIpAddress": ip}]},
            "groupSet": {"items": [{"groupId": GROUP}]},
        }
        for iid, eni, ip in zip(INSTANCES, ENIS, IPS, strict=True)
    ]
    perm = {
        "ipProtocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
    }
    return _numbered(
        "a",
        [
            event(
                "ListBuckets",
                T0 - timedelta(days=5),
                source="s3.amazonaws.com",
                read_only=True,
                ip="10.9.9.9",
            ),
            event("GetCallerIdentity", T0, source="sts.amazonaws.com", read_only=True),
            event("DescribeRegions", at(0.5), read_only=None),
            event(
                "ImportKeyPair",
                at(2),
                req={"keyName": KEY_NAME},
                resp={"keyName": KEY_NAME, "keyPairId": KEY_PAIR_ID},
            ),
            event(
                "CreateSecurityGroup",
                at(3),
                req={"groupName": "maint-ssh", "vpcId": VPC},
                resp={"groupId": GROUP, "_return": True},
            ),
            event(
                "AuthorizeSecurityGroupIngress",
                at(3.5),
                req={"groupId": GROUP, "ipPermissions": {"items": [perm]}},
                resp={
                    "securityGroupRuleSet": {
                        "items": [
                            {
                                "securityGroupRuleId": RULE,
                                "groupId": GROUP,
                                "isEgress": False,
                                "ipProtocol": "tcp",
                                "fromPort": 22,
                                "toPort": 22,
                                "cidrIpv4": "0.0.0.0/0",
                            }
                        ]
                    }
                },
            ),
            event("CreateTags", at(4), read_only=None, req={"resourcesSet": {}}),
            event(
                "RunInstances",
                at(5),
                req={"instanceType": "c5.4xlarge"},
                resp={"instancesSet": {"items": items}},
            ),
            event(
                "RunInstances",
                at(5.5),
                error="Client.InstanceLimitExceeded",
                req={"instanceType": "p3.16xlarge"},
            ),
            # someone else's key, same account: not in the incident
            event(
                "CreateSecurityGroup",
                at(6),
                key=OTHER_KEY,
                principal=f"arn:aws:iam::{ACCOUNT}:user/dev",
                is_root=False,
                ip="10.1.1.1",
                resp={"groupId": "sg-0ffffffffffffffff"},
            ),
        ],
    )


def remediation_events(offset_minutes: float = 40) -> list[dict[str, Any]]:
    """The responder's calls, from the office, as root (console) and as an IAM user."""
    console = dict(key="ASIAQQQQRRRRSSSSTTTT", ip="198.51.100.7", principal=ROOT)
    user = dict(
        key="ASIAUUUUVVVVWWWWXXXX",
        ip="198.51.100.7",
        principal=f"arn:aws:iam::{ACCOUNT}:user/responder",
        is_root=False,
    )
    return _numbered(
        "r",
        [
            event(
                "UpdateAccessKey",
                at(offset_minutes),
                source="iam.amazonaws.com",
                req={"accessKeyId": KEY, "status": "Inactive"},
                **console,
            ),
            event(
                "DeleteAccessKey",
                at(offset_minutes + 1),
                source="iam.amazonaws.com",
                req={"accessKeyId": KEY},
                **console,
            ),
            event(
                "TerminateInstances",
                at(offset_minutes + 2),
                req={"instancesSet": {"items": [{"instanceId": i} for i in INSTANCES]}},
                **user,
            ),
            event(
                "RevokeSecurityGroupIngress", at(offset_minutes + 3), req={"groupId": GROUP}, **user
            ),
            event(
                "DeleteSecurityGroup",
                at(offset_minutes + 4),
                req={"groupId": GROUP},
                error="Client.DependencyViolation",
                **user,
            ),
            event("DeleteSecurityGroup", at(offset_minutes + 6), req={"groupId": GROUP}, **user),
            event("DeleteKeyPair", at(offset_minutes + 7), req={"keyPairId": KEY_PAIR_ID}, **user),
        ],
    )


def alert(
    alert_id: str,
    name: str,
    first: datetime,
    *,
    severity: str = "high",
    key: str | None = None,
    principal: str | None = None,
    entities: list[tuple[str, str]] = (),
    tactics: tuple[str, ...] = (),
    created: datetime | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "detection_id": f"TW-{name}",
        "detection_name": name,
        "title": f"{name} {HOSTILE}",
        "severity": severity,
        "mitre_techniques": [],
        "mitre_tactics": list(tactics),
        "window_start": first,
        "first_seen": first,
        "last_seen": first + timedelta(minutes=1),
        "alert_time": first,
        "created_at": created or first + timedelta(minutes=20),
        "updated_at": created or first,
        "event_count": 1,
        "account_id": ACCOUNT,
        "region": REGION,
        "principal_arn": principal,
        "access_key_id": key,
        "source_ips": [],
        "entities": [{"type": t, "value": v} for t, v in entities],
        "evidence": [],
        "status": "open",
        "run_id": "r0",
        "fingerprint": alert_id,
    }
