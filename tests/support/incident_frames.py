"""The miniature attack of ``tests/support/incident_fixtures.py`` as tiny silver and alert
frames: mining traffic from both instances, the attacker's SSH in and private chatter; the miners'
pool lookups beside lookups that must not count; the alerts it raises and an unrelated one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.sources import DNS
from schemas.alerts import ALERTS
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.dns import DNS_QUERIES
from schemas.vpcflow import VPC_FLOWS
from tests.support.incident_fixtures import (
    ACCOUNT,
    ATTACKER,
    CDN_ALIAS,
    ENIS,
    HOSTILE,
    INSTANCES,
    IPS,
    KEY,
    OTHER_KEY,
    POOL,
    REGION,
    ROOT,
    T0,
    VPC,
    alert,
    at,
    attack_events,
    frame,
    remediation_events,
)


def _flow(flow_id: str, t: datetime, seconds: int, record_index: int,
          **fields: Any) -> dict[str, Any]:
    """A TCP flow row of the attack's account and VPC accepted at ``t``, with its lineage."""
    return {
        "flow_id": flow_id, "protocol": 6, "action": "ACCEPT", "account_id": ACCOUNT,
        "vpc_id": VPC, "start_time": t, "end_time": t + timedelta(seconds=seconds),
        "event_date": t.date(), "source_file": "s3://t/flows.log.gz",
        "record_index": record_index, "ingested_at": t, "run_id": "r0", **fields,
    }


def flows() -> list[dict[str, Any]]:
    """Mining traffic from both instances, the attacker's SSH in, and private chatter."""
    out = [
        _flow(f"f-{n}-{minute}", at(minute), 59, minute, interface_id=eni, instance_id=iid,
              srcaddr=ip, dstaddr=POOL, srcport=41000 + n, dstport=7777, bytes=1_000_000,
              packets=900)
        for n, (iid, eni, ip) in enumerate(zip(INSTANCES, ENIS, IPS, strict=True))
        for minute in range(8, 14)
    ]
    out.append(_flow("f-ssh", at(6), 0, 99, interface_id=ENIS[0], srcaddr=ATTACKER,
                     dstaddr=IPS[0], srcport=50200, dstport=22, bytes=5000, packets=40))
    out.append(_flow("f-private", at(6), 0, 98, interface_id=ENIS[1], srcaddr=IPS[1],
                     dstaddr="172.31.9.9", srcport=40000, dstport=443, bytes=777, packets=3))
    return out


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
