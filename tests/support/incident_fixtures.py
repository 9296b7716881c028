"""A miniature attack as tiny silver and alert frames: a stolen key, a key pair, an open group,
two instances, their pool lookups and mining traffic, and later the responder's clean-up calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructField, StructType

from jobs.runtime.frames import local_frame
from jobs.sources import DNS
from schemas.alerts import ALERTS
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.dns import DNS_QUERIES
from schemas.vpcflow import VPC_FLOWS

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


def flows() -> list[dict[str, Any]]:
    """Mining traffic from both instances, the attacker's SSH in, and private chatter."""
    out = []
    for n, (iid, eni, ip) in enumerate(zip(INSTANCES, ENIS, IPS, strict=True)):
        for minute in range(8, 14):
            t = at(minute)
            out.append(
                {
                    "flow_id": f"f-{n}-{minute}",
                    "interface_id": eni,
                    "instance_id": iid,
                    "srcaddr": ip,
                    "dstaddr": POOL,
                    "srcport": 41000 + n,
                    "dstport": 7777,
                    "protocol": 6,
                    "bytes": 1_000_000,
                    "packets": 900,
                    "action": "ACCEPT",
                    "account_id": ACCOUNT,
                    "vpc_id": VPC,
                    "start_time": t,
                    "end_time": t + timedelta(seconds=59),
                    "event_date": t.date(),
                    "source_file": "s3://t/flows.log.gz",
                    "record_index": minute,
                    "ingested_at": t,
                    "run_id": "r0",
                }
            )
    t = at(6)
    out.append(
        {
            "flow_id": "f-ssh",
            "interface_id": ENIS[0],
            "srcaddr": ATTACKER,
            "dstaddr": IPS[0],
            "srcport": 50200,
            "dstport": 22,
            "protocol": 6,
            "bytes": 5000,
            "packets": 40,
            "action": "ACCEPT",
            "account_id": ACCOUNT,
            "vpc_id": VPC,
            "start_time": t,
            "end_time": t,
            "event_date": t.date(),
            "source_file": "s3://t/flows.log.gz",
            "record_index": 99,
            "ingested_at": t,
            "run_id": "r0",
        }
    )
    out.append(
        {
            "flow_id": "f-private",
            "interface_id": ENIS[1],
            "srcaddr": IPS[1],
            "dstaddr": "172.31.9.9",
            "srcport": 40000,
            "dstport": 443,
            "protocol": 6,
            "bytes": 777,
            "packets": 3,
            "action": "ACCEPT",
            "account_id": ACCOUNT,
            "vpc_id": VPC,
            "start_time": t,
            "end_time": t,
            "event_date": t.date(),
            "source_file": "s3://t/flows.log.gz",
            "record_index": 98,
            "ingested_at": t,
            "run_id": "r0",
        }
    )
    return out


POOL_INTEL = {"mining_pool_domains": ["pool.supportxmr.com"],
              "mining_pool_domain_suffixes": ["nanopool.org", "supportxmr.com"]}
CDN_ALIAS = "updates.example-cdn.net."  # a CNAME to a nanopool host


def query(qid: str, minutes: float, name: str, answers: list[tuple[str, str]], *,
          instance: str | None = INSTANCES[0], src: str = IPS[0], qtype: str = "A",
          account: str = ACCOUNT) -> dict[str, Any]:
    """One ``silver/dns_queries`` row."""
    t = at(minutes)
    return {
        "query_id": qid, "account_id": account, "region": REGION, "vpc_id": VPC,
        "query_time": t, "query_name": name, "query_type": qtype, "query_class": "IN",
        "rcode": "NOERROR", "answers": [{"rdata": d, "type": k, "class": "IN"} for k, d in answers],
        "srcaddr": src, "srcport": 53000, "transport": "UDP", "instance_id": instance,
        "event_date": t.date(), "source_file": "s3://t/dns.log.gz", "record_index": 1,
    }


def queries() -> list[dict[str, Any]]:
    """The miners' pool lookups (one hidden behind a CNAME, one by source address alone, one
    repeated, one AAAA without answers), and lookups that must not count: a look-alike name,
    another instance, another account, and ordinary names."""
    pool = [("A", POOL)]
    return [
        query("q-1", 7, "pool.supportxmr.com.", pool),
        query("q-2", 7, "pool.supportxmr.com.", [], qtype="AAAA"),
        query("q-3", 20, "pool.supportxmr.com.", pool),
        query("q-4", 7.5, CDN_ALIAS, [("CNAME", "xmr-eu1.nanopool.org."), ("A", POOL)],
              instance=INSTANCES[1], src=IPS[1]),
        query("q-5", 7.6, HOSTILE + ".supportxmr.com.", [("A", "198.51.100.9")], instance=None,
              src=IPS[1]),
        query("q-6", 7, "notsupportxmr.com.", [("A", POOL)]),
        query("q-7", 7, "pool.supportxmr.com.", pool, instance="i-0ccccccccccccccc3",
              src="172.31.1.99"),
        query("q-8", 7, "pool.supportxmr.com.", pool, instance=None, account="999988887777"),
        query("q-9", 6, "s3.us-east-1.amazonaws.com.", [("A", "52.216.8.1")]),
    ]


def dns_frame(spark: SparkSession) -> DataFrame:
    """``queries`` with the view columns detections and incidents read."""
    return DNS.add_view_columns(frame(spark, DNS_QUERIES, queries()))


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


def attack_alerts() -> list[dict[str, Any]]:
    """Root key used (recon), mining traffic on the instances (linked only through who launched
    them), and an unrelated alert on another key."""
    return [
        alert(
            "a-root",
            "root_access_key_used",
            T0,
            severity="high",
            key=KEY,
            principal=ROOT,
            entities=[("access_key", KEY), ("user", ROOT), ("ip", ATTACKER), ("account", ACCOUNT)],
            tactics=("TA0001",),
        ),
        alert(
            "a-mining",
            "mining_pool_traffic",
            at(8),
            severity="critical",
            entities=[
                ("instance", INSTANCES[0]),
                ("instance", INSTANCES[1]),
                ("eni", ENIS[0]),
                ("ip", POOL),
            ],
            tactics=("TA0040", "TA0011"),
        ),
        alert(
            "a-other",
            "new_sdk_for_principal",
            at(6),
            severity="medium",
            key=OTHER_KEY,
            principal=f"arn:aws:iam::{ACCOUNT}:user/dev",
            entities=[("access_key", OTHER_KEY)],
        ),
    ]


def frames(
    spark: SparkSession, with_remediation: bool = False
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """``(alerts, cloudtrail, flows)`` for the miniature attack."""
    events = attack_events() + (remediation_events() if with_remediation else [])
    return (
        frame(spark, ALERTS, attack_alerts()),
        frame(spark, CLOUDTRAIL_EVENTS, events),
        frame(spark, VPC_FLOWS, flows()),
    )
