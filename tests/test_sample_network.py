"""The sample's network logs: flow logs with a documented header (the field list checked
against AWS's) and full rows, mixing routine traffic, scans and gaps; the attack's instances
mining every minute after launch; Resolver query logs as AWS writes them, and the miners
resolving the pool they then connect to. The landing zone is generated once per session
(``sample_landing`` in ``tests/conftest.py``)."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.sample.cli import ATTACK, Summary
from tests.support.sample_files import (
    LAYOUT,
    account_of,
    flow_table,
    is_flow_key,
    lines_of,
    source_of,
)

# Route 53 Resolver query-log fields (Route 53 Developer Guide, "Values that appear in VPC
# Resolver query logs"); firewall_* appear only on queries a DNS Firewall rule matched.
DNS_FIELDS = [
    "version", "account_id", "region", "vpc_id", "query_timestamp", "query_name", "query_type",
    "query_class", "rcode", "answers", "srcaddr", "srcport", "transport", "srcids",
]  # fmt: skip
# Flow-log field names AWS documents for versions 2-5.
DOCUMENTED = {
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status", "vpc-id", "subnet-id",
    "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr", "region", "az-id",
    "sublocation-type", "sublocation-id", "pkt-src-aws-service", "pkt-dst-aws-service",
    "flow-direction", "traffic-path",
}  # fmt: skip
DEFAULT_V2 = (
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status",
)  # fmt: skip
TRAFFIC_FIELDS = ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes")


@pytest.fixture(scope="module")
def flows(sample_files: dict[str, Path]) -> dict[str, list[dict[str, str]]]:
    """Flow records by account, as field -> value."""
    out: dict[str, list[dict[str, str]]] = {}
    for key, path in sample_files.items():
        if is_flow_key(key):
            fields, rows = flow_table(path)
            for values in rows:
                assert len(values) == len(fields), (key, values)
                out.setdefault(account_of(key), []).append(dict(zip(fields, values, strict=True)))
    return out


@pytest.fixture(scope="module")
def queries(sample_files: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    """Every Resolver query-log record with the key of the file holding it."""
    return [
        (key, json.loads(line))
        for key, path in sample_files.items()
        if source_of(key) == "dns"
        for line in lines_of(path)
    ]


def test_flow_logs_have_a_documented_header_and_full_rows(
    sample_landing: tuple[Path, Summary],
    sample_files: dict[str, Path],
    flows: dict[str, list[dict[str, str]]],
) -> None:
    headers: dict[str, set[tuple[str, ...]]] = {}
    for key, path in sample_files.items():
        if is_flow_key(key):
            header = flow_table(path)[0]
            assert set(header) <= DOCUMENTED and len(set(header)) == len(header)
            headers.setdefault(account_of(key), set()).add(tuple(header))
    assert headers["111122223333"] == {DEFAULT_V2}
    (custom,) = headers["444455556666"]
    assert {"flow-direction", "traffic-path", "pkt-src-aws-service", "az-id"} <= set(custom)
    assert custom[:3] != DEFAULT_V2[:3]
    assert sum(len(rows) for rows in flows.values()) == sample_landing[1].vpcflow.records


def test_flow_logs_mix_routine_traffic_scans_and_gaps(
    flows: dict[str, list[dict[str, str]]],
) -> None:
    rows = [row for account_rows in flows.values() for row in account_rows]
    statuses = Counter(row["log-status"] for row in rows)
    assert statuses["NODATA"] >= 2 and statuses["SKIPDATA"] >= 1
    for row in rows:
        if row["log-status"] != "OK":
            assert all(row[f] == "-" for f in TRAFFIC_FIELDS if f in row) and row["action"] == "-"
    rejects = [r for r in rows if r["action"] == "REJECT" and r["srcaddr"] != ATTACK.attacker_ip]
    assert {"22", "3389"} <= {r["dstport"] for r in rejects}
    assert any(r["dstport"] == "443" and r["srcaddr"].startswith("10.") for r in rows)
    assert any(r["dstport"] == "53" and r["protocol"] == "17" for r in rows)
    assert any(r["dstport"] == "123" for r in rows)
    v5 = flows["444455556666"]
    assert {r["flow-direction"] for r in v5} == {"ingress", "egress", "-"}
    assert {r["pkt-dst-aws-service"] for r in v5} >= {"S3", "DYNAMODB", "-"}
    assert all(r["version"] == "5" for r in v5)


def test_attack_flows_mine_every_minute_after_launch(
    flows: dict[str, list[dict[str, str]]],
) -> None:
    rows = flows[ATTACK.account_id]
    to_pool = [r for r in rows if r["dstaddr"] == ATTACK.pool_ip]
    assert all(r["dstport"] == str(ATTACK.pool_port) and r["action"] == "ACCEPT" for r in to_pool)
    per_eni = Counter((r["interface-id"], r["srcaddr"]) for r in to_pool)
    assert set(per_eni) == set(zip(ATTACK.eni_ids, ATTACK.private_ips, strict=True))
    assert min(per_eni.values()) >= 590
    launch = int(ATTACK.run_instances.timestamp())
    assert min(int(r["start"]) for r in to_pool) > launch
    assert all(int(r["bytes"]) >= 1_000_000 for r in to_pool)
    ssh = [r for r in rows if r["srcaddr"] == ATTACK.attacker_ip and r["dstport"] == "22"]
    assert {r["action"] for r in ssh} == {"ACCEPT", "REJECT"}
    assert {r["dstaddr"] for r in ssh if r["action"] == "ACCEPT"} == set(ATTACK.private_ips)


def test_resolver_query_logs_are_well_formed(
    sample_landing: tuple[Path, Summary], queries: list[tuple[str, dict[str, Any]]],
) -> None:
    assert len(queries) == sample_landing[1].dns.records
    for key, record in queries:
        match = LAYOUT["dns"].fullmatch(key)
        assert match is not None
        assert list(record) == DNS_FIELDS, key
        assert (record["account_id"], record["vpc_id"]) == (match.group(1), match.group(2))
        assert record["version"] == "1.100000" and record["query_class"] == "IN"
        assert re.fullmatch(r"2026-11-20T\d\d:\d\d:\d\dZ", record["query_timestamp"])
        stamp = key.rsplit("_", 2)[1]
        assert record["query_timestamp"][11:16].replace(":", "") <= stamp[9:13]
        assert record["query_name"].endswith(".") and record["srcport"].isdigit()
        assert re.fullmatch(r"i-0[0-9a-f]{16}", record["srcids"]["instance"])
        assert all(set(a) == {"Rdata", "Type", "Class"} for a in record["answers"])
    codes = Counter(r["rcode"] for _, r in queries)
    assert set(codes) == {"NOERROR", "NXDOMAIN"} and codes["NXDOMAIN"] >= 10
    chains = [r for _, r in queries if [a["Type"] for a in r["answers"]][:1] == ["CNAME"]]
    assert chains and all(c["answers"][-1]["Type"] == "A" for c in chains)


def test_miners_resolve_the_pool_they_then_connect_to(
    queries: list[tuple[str, dict[str, Any]]], flows: dict[str, list[dict[str, str]]],
) -> None:
    pool = [r for _, r in queries if "supportxmr" in r["query_name"]]
    assert {r["srcids"]["instance"] for r in pool} == set(ATTACK.instance_ids)
    assert {(r["srcaddr"], r["vpc_id"]) for r in pool} == {
        (ip, ATTACK.vpc_id) for ip in ATTACK.private_ips}
    a_records = [r for r in pool if r["query_type"] == "A"]
    assert len(a_records) == 10 and all(
        r["query_name"] == "pool.supportxmr.com." and r["answers"] == [
            {"Rdata": ATTACK.pool_ip, "Type": "A", "Class": "IN"}] for r in a_records)
    first_flow = min(
        int(f["start"]) for f in flows[ATTACK.account_id] if f["dstaddr"] == ATTACK.pool_ip)
    looked_up = max(
        datetime.fromisoformat(r["query_timestamp"].replace("Z", "+00:00")) for r in pool)
    assert ATTACK.run_instances < looked_up and looked_up.timestamp() < first_flow
    routine = [r for _, r in queries if r not in pool]
    assert not any(ATTACK.pool_ip == a["Rdata"] for r in routine for a in r["answers"])
    assert not any(r["srcaddr"] in ATTACK.private_ips for r in routine)


def test_documented_fields_match_the_aws_field_list(shared_real: Path) -> None:
    with (shared_real / "aws-docs" / "vpcflow" / "flow-log-fields.csv").open() as handle:
        aws = {row["field"] for row in csv.DictReader(handle) if int(row["version"]) <= 5}
    assert aws == DOCUMENTED
