"""The sample landing zone: S3 layout, wire formats, determinism and the attack's ground truth."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import zlib
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from devtools.sample.actors import build_roster
from devtools.sample.build import Plan
from devtools.sample.cli import ATTACK, Count, Summary, generate, main, write_remediation
from devtools.sample.identities import CI_IP
from devtools.sample.ids import Clock
from devtools.sample.landscape import FIREHOSE_SITE, SECURITY_LAKE_SITE, build_account
from devtools.sample.scheduled import ROTATED_USER, ROTATION_ROLE

REGION = r"(?:us-east-1|eu-west-1|us-west-2)"
DAY = r"(\d{4})/(\d{2})/(\d{2})"
ORG = r"(?:o-[a-z0-9]{10,32}/)?"  # an organization trail's folder
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LAYOUT = {
    "cloudtrail": re.compile(
        rf"AWSLogs/{ORG}(\d{{12}})/CloudTrail/({REGION})/{DAY}/\1_CloudTrail_\2_\3\4\5T\d{{4}}Z"
        r"_[A-Za-z0-9]{16}\.json\.gz"
    ),
    "cloudtrail_digest": re.compile(
        rf"AWSLogs/{ORG}(\d{{12}})/CloudTrail-Digest/({REGION})/{DAY}/\1_CloudTrail-Digest_\2_"
        r"[A-Za-z0-9-]+_\2_\3\4\5T\d{6}Z\.json\.gz"
    ),
    "vpcflow": re.compile(
        rf"AWSLogs/(\d{{12}})/vpcflowlogs/({REGION})/{DAY}/\1_vpcflowlogs_\2_fl-[0-9a-f]{{17}}"
        r"_\3\4\5T\d{4}Z_[0-9a-f]{8}\.log\.gz"
    ),
    "vpcflow_parquet": re.compile(
        rf"AWSLogs/aws-account-id=(\d{{12}})/aws-service=vpcflowlogs/aws-region=({REGION})/"
        r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/\1_vpcflowlogs_\2_fl-[0-9a-f]{17}"
        r"_\3\4\5T\6\d{2}Z_[0-9a-f]{8}\.log\.parquet"
    ),
    "guardduty": re.compile(rf"AWSLogs/(\d{{12}})/GuardDuty/({REGION})/{DAY}/{UUID}\.jsonl\.gz"),
    "dns": re.compile(
        rf"AWSLogs/(\d{{12}})/vpcdnsquerylogs/(vpc-[0-9a-f]{{17}})/{DAY}/\1_vpcdnsquerylogs_\2"
        r"_\3\4\5T\d{4}Z_[0-9a-f]{8}\.log\.gz"
    ),
    # Security Lake: the account comes first (a look-ahead), as every other layout's group 1.
    **{
        f"security_lake_{name}": re.compile(
            rf"(?=.*/accountId=(\d{{12}})/)aws/{folder}/2\.0/region=({REGION})/accountId=\1/"
            rf"eventDay=(\d{{8}})/{UUID}\.gz\.parquet"
        )
        for name, folder in (("cloudtrail", "CLOUD_TRAIL_MGMT"), ("vpcflow", "VPC_FLOW"))
    },
    # Firehose's default layout; the stream's name carries the account and region (a look-ahead).
    "firehose_cloudtrail": re.compile(
        rf"(?=.*/cwl-cloudtrail-(\d{{12}})-({REGION})-1-)firehose/cloudtrail/{DAY}/(\d{{2}})/"
        rf"cwl-cloudtrail-\1-\2-1-\3-\4-\5-\6-\d{{2}}-\d{{2}}-{UUID}\.gz"
    ),
}
PARQUET = ("vpcflow_parquet", "security_lake_cloudtrail", "security_lake_vpcflow")
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
ATTACK_NAMES = [
    "GetCallerIdentity", "GetCallerIdentity", "DescribeRegions", "DescribeInstances",
    "ImportKeyPair", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RunInstances",
]  # fmt: skip
REMEDIATION_NAMES = {
    "UpdateAccessKey", "DeleteAccessKey", "TerminateInstances", "RevokeSecurityGroupIngress",
    "DeleteSecurityGroup", "DeleteKeyPair",
}  # fmt: skip


def _files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def _source(key: str) -> str:
    return next(name for name, pattern in LAYOUT.items() if pattern.fullmatch(key))


def _account(key: str) -> str:
    """The account a delivery key belongs to (its own folder, an org trail's, or Hive-style)."""
    return next(m.group(1) for p in LAYOUT.values() if (m := p.fullmatch(key)))


def _flow_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A flow-log file's field names and rows as text (``-`` for a missing value)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        fields = [name.replace("_", "-") for name in table.column_names]
        columns = [["-" if v is None else str(v) for v in c.to_pylist()] for c in table.columns]
        return fields, [list(row) for row in zip(*columns, strict=True)]
    header, *rows = _lines(path)
    return header.split(" "), [row.split(" ") for row in rows]


def _region(key: str) -> str:
    """The region of a CloudTrail, flow-log or Security Lake delivery key."""
    return next(m.group(2) for p in LAYOUT.values() if (m := p.fullmatch(key)))


def _is_flow(key: str) -> bool:
    return _source(key) in ("vpcflow", "vpcflow_parquet")


def _lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def _is_attack(event: dict[str, Any]) -> bool:
    return bool(event["userIdentity"].get("accessKeyId") == ATTACK.access_key_id)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Summary]:
    root = tmp_path_factory.mktemp("landing")
    return root, generate(root)


@pytest.fixture(scope="module")
def files(landing: tuple[Path, Summary]) -> dict[str, Path]:
    return _files(landing[0])


@pytest.fixture(scope="module")
def trail(files: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    """Every CloudTrail record with the key of the file holding it."""
    out = []
    for key, path in files.items():
        if _source(key) == "cloudtrail":
            body = json.loads(gzip.decompress(path.read_bytes()))
            assert list(body) == ["Records"] and isinstance(body["Records"], list), key
            assert body["Records"], key
            out += [(key, record) for record in body["Records"]]
    return out


@pytest.fixture(scope="module")
def flows(files: dict[str, Path]) -> dict[str, list[dict[str, str]]]:
    """Flow records by account, as field -> value."""
    out: dict[str, list[dict[str, str]]] = {}
    for key, path in files.items():
        if _is_flow(key):
            fields, rows = _flow_table(path)
            for values in rows:
                assert len(values) == len(fields), (key, values)
                out.setdefault(_account(key), []).append(dict(zip(fields, values, strict=True)))
    return out


@pytest.fixture(scope="module")
def findings(files: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for key, path in files.items()
        if _source(key) == "guardduty"
        for line in _lines(path)
    ]


def test_every_file_follows_the_s3_delivery_layout(
    landing: tuple[Path, Summary], files: dict[str, Path]
) -> None:
    unmatched = [k for k in files if not any(p.fullmatch(k) for p in LAYOUT.values())]
    assert not unmatched
    by_source = Counter(_source(k).removesuffix("_parquet") for k in files)
    summary = landing[1]
    assert by_source == {
        "cloudtrail": summary.cloudtrail.files,
        "cloudtrail_digest": summary.cloudtrail_digest.files,
        "vpcflow": summary.vpcflow.files,
        "guardduty": summary.guardduty.files,
        "dns": summary.dns.files,
        "security_lake_cloudtrail": summary.security_lake_cloudtrail.files,
        "security_lake_vpcflow": summary.security_lake_vpcflow.files,
        "firehose_cloudtrail": summary.firehose_cloudtrail.files,
    }
    assert {_account(k) for k in files} == {"111122223333", "444455556666"}
    org = {_account(k) for k in files if k.startswith("AWSLogs/o-")}
    parquet = {_account(k) for k in files if _source(k) == "vpcflow_parquet"}
    assert org == parquet == {"444455556666"}
    assert not any(_account(k) == "444455556666" for k in files if _source(k) == "vpcflow")
    # Security Lake's region is written only as Security Lake: no native trail or flow file.
    lake = {(_account(k), _region(k)) for k in files if _source(k).startswith("security_lake")}
    assert lake == {SECURITY_LAKE_SITE}
    assert not [k for k in files if _source(k) in ("cloudtrail", "vpcflow", "vpcflow_parquet")
                and (_account(k), _region(k)) == SECURITY_LAKE_SITE]
    # Firehose's trail region likewise: no native trail file (its flow logs stay native).
    hose = {(_account(k), _region(k)) for k in files if _source(k) == "firehose_cloudtrail"}
    assert hose == {FIREHOSE_SITE}
    assert not [k for k in files if _source(k) == "cloudtrail"
                and (_account(k), _region(k)) == FIREHOSE_SITE]


def test_files_are_plain_gzip_without_timestamp(files: dict[str, Path]) -> None:
    for key, path in files.items():
        head = path.read_bytes()[:10]
        if _source(key) in PARQUET:
            assert head[:4] == b"PAR1", path
            continue
        assert head[:3] == b"\x1f\x8b\x08" and head[4:8] == b"\0\0\0\0", path


def test_scale_zero_is_the_demo_size(landing: tuple[Path, Summary]) -> None:
    summary = landing[1]
    assert 3_000 <= summary.cloudtrail.records <= 8_000
    assert 5_000 <= summary.vpcflow.records <= 20_000
    assert summary.guardduty.records == 4
    assert summary.dns.records == 1_520  # ~0.25 lookups per routine flow, plus 20 by the miners
    # dev's us-west-2 (SECURITY_LAKE_SITE): its routine calls and flow records, as Security Lake
    assert summary.security_lake_cloudtrail == Count(files=24, records=287)
    assert summary.security_lake_vpcflow == Count(files=24, records=368)
    # prod's us-west-2 (FIREHOSE_SITE): its CloudTrail, one object per 15 minutes with events
    assert summary.firehose_cloudtrail == Count(files=89, records=474)


def test_cloudtrail_records_are_well_formed(
    landing: tuple[Path, Summary], trail: list[tuple[str, dict[str, Any]]]
) -> None:
    assert len(trail) == landing[1].cloudtrail.records
    ids = Counter(event["eventID"] for _, event in trail)
    assert ids.most_common(1)[0][1] == 1
    for key, event in trail:
        match = LAYOUT["cloudtrail"].fullmatch(key)
        assert match is not None
        account, region = match.group(1), match.group(2)
        assert event["eventVersion"] in ("1.08", "1.09")
        assert re.fullmatch(r"2026-11-20T\d\d:\d\d:\d\dZ", event["eventTime"])
        assert re.fullmatch(UUID, event["eventID"])
        assert event["recipientAccountId"] == account and event["awsRegion"] == region
        assert event["eventType"] in ("AwsApiCall", "AwsConsoleSignIn", "AwsServiceEvent")
        assert event["eventCategory"] == "Management" and event["managementEvent"] is True
        stamp = key.rsplit("_", 2)[1]
        assert event["eventTime"][11:16].replace(":", "") <= stamp[9:13]


def test_digests_list_the_hourly_log_files_by_hash(files: dict[str, Path]) -> None:
    digests = [p for k, p in files.items() if _source(k) == "cloudtrail_digest"]
    assert len(digests) == 48
    listed = 0
    for path in digests:
        digest = json.loads(gzip.decompress(path.read_bytes()))
        assert "Records" not in digest
        assert digest["digestStartTime"] < digest["digestEndTime"]
        for log in digest["logFiles"]:
            body = gzip.decompress(files[log["s3Object"]].read_bytes())
            assert hashlib.sha256(body).hexdigest() == log["hashValue"]
            listed += 1
    assert listed > 400


def test_flow_logs_have_a_documented_header_and_full_rows(
    landing: tuple[Path, Summary], files: dict[str, Path], flows: dict[str, list[dict[str, str]]]
) -> None:
    headers: dict[str, set[tuple[str, ...]]] = {}
    for key, path in files.items():
        if _is_flow(key):
            header = _flow_table(path)[0]
            assert set(header) <= DOCUMENTED and len(set(header)) == len(header)
            headers.setdefault(_account(key), set()).add(tuple(header))
    assert headers["111122223333"] == {DEFAULT_V2}
    (custom,) = headers["444455556666"]
    assert {"flow-direction", "traffic-path", "pkt-src-aws-service", "az-id"} <= set(custom)
    assert custom[:3] != DEFAULT_V2[:3]
    assert sum(len(rows) for rows in flows.values()) == landing[1].vpcflow.records


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


def test_attack_cloudtrail_uses_the_exact_ground_truth(
    trail: list[tuple[str, dict[str, Any]]],
) -> None:
    attack = sorted((e for _, e in trail if _is_attack(e)), key=lambda e: e["eventTime"])
    assert [e["eventName"] for e in attack] == ATTACK_NAMES
    for event in attack:
        assert event["userIdentity"] == {
            "type": "Root",
            "principalId": ATTACK.account_id,
            "arn": f"arn:aws:iam::{ATTACK.account_id}:root",
            "accountId": ATTACK.account_id,
            "accessKeyId": ATTACK.access_key_id,
        }
        assert event["sourceIPAddress"] == ATTACK.attacker_ip
        assert event["userAgent"] == ATTACK.user_agent
        assert event["awsRegion"] == ATTACK.region
    times = [datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00")) for e in attack]
    assert times[0] == ATTACK.recon and (times[1] - times[0]).total_seconds() > 1_150
    assert ATTACK.start <= times[1] and times[-1] == ATTACK.run_instances
    by_name = {e["eventName"]: e for e in attack}
    assert by_name["ImportKeyPair"]["responseElements"]["keyPairId"] == ATTACK.key_pair_id
    assert by_name["ImportKeyPair"]["requestParameters"]["keyName"] == ATTACK.key_name
    assert by_name["CreateSecurityGroup"]["responseElements"]["groupId"] == ATTACK.security_group_id
    ingress = by_name["AuthorizeSecurityGroupIngress"]["requestParameters"]
    assert ingress["groupId"] == ATTACK.security_group_id
    (perm,) = ingress["ipPermissions"]["items"]
    assert (perm["ipProtocol"], perm["fromPort"], perm["toPort"]) == ("tcp", 22, 22)
    assert perm["ipRanges"]["items"] == [{"cidrIp": "0.0.0.0/0"}]
    run = by_name["RunInstances"]
    (item,) = run["requestParameters"]["instancesSet"]["items"]
    assert (item["minCount"], item["maxCount"], item["keyName"]) == (10, 10, ATTACK.key_name)
    assert run["requestParameters"]["instanceType"] == ATTACK.instance_type
    assert run["requestParameters"]["groupSet"]["items"] == [{"groupId": ATTACK.security_group_id}]
    launched = run["responseElements"]["instancesSet"]["items"]
    assert tuple(i["instanceId"] for i in launched) == ATTACK.instance_ids
    assert tuple(i["privateIpAddress"] for i in launched) == ATTACK.private_ips
    nics = [i["networkInterfaceSet"]["items"][0] for i in launched]
    assert tuple(n["networkInterfaceId"] for n in nics) == ATTACK.eni_ids
    assert tuple(n["privateIpAddress"] for n in nics) == ATTACK.private_ips


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


@pytest.fixture(scope="module")
def queries(files: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    """Every Resolver query-log record with the key of the file holding it."""
    return [
        (key, json.loads(line))
        for key, path in files.items()
        if _source(key) == "dns"
        for line in _lines(path)
    ]


def test_resolver_query_logs_are_well_formed(
    landing: tuple[Path, Summary], queries: list[tuple[str, dict[str, Any]]],
) -> None:
    assert len(queries) == landing[1].dns.records
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


def test_security_lake_objects_hold_ocsf_rows_of_their_key(
    landing: tuple[Path, Summary], files: dict[str, Path]
) -> None:
    classes = {"security_lake_cloudtrail": 6003, "security_lake_vpcflow": 4001}
    rows: Counter[str] = Counter()
    for key, path in files.items():
        if (source := _source(key)) in classes:
            table = pq.read_table(path, columns=["class_uid", "cloud", "time"])
            match = LAYOUT[source].fullmatch(key)
            assert match is not None and match.group(3) == "20261120"
            assert set(table.column("class_uid").to_pylist()) == {classes[source]}
            clouds = table.column("cloud").to_pylist()
            assert {(c["account"]["uid"], c["region"]) for c in clouds} == {
                (match.group(1), match.group(2))}
            hours = {datetime.fromtimestamp(t / 1000, UTC).hour
                     for t in table.column("time").to_pylist()}
            assert len(hours) == 1, key  # one object per hour
            rows[source] += table.num_rows
    assert rows == {k: getattr(landing[1], k).records for k in classes}


def _gzip_members(data: bytes) -> list[bytes]:
    """Each member of a multi-member gzip object, decompressed."""
    out = []
    while data:
        member = zlib.decompressobj(wbits=31)
        out.append(member.decompress(data))
        data = member.unused_data
    return out


def test_firehose_objects_hold_cloudwatch_logs_envelopes_of_their_key(
    landing: tuple[Path, Summary], files: dict[str, Path], trail: list[tuple[str, dict[str, Any]]]
) -> None:
    account, region = FIREHOSE_SITE
    envelope_keys = ["messageType", "owner", "logGroup", "logStream", "subscriptionFilters",
                     "logEvents"]
    delivered, controls, ids = [], [], []
    for key, path in files.items():
        if _source(key) != "firehose_cloudtrail":
            continue
        name = key.rsplit("/", 1)[-1].removeprefix(f"cwl-cloudtrail-{account}-{region}-1-")
        at = datetime.strptime(name[:19], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
        assert key.startswith(f"firehose/cloudtrail/{at:%Y/%m/%d/%H}/")
        delivered.append(at)
        # one gzip member per CloudWatch Logs delivery, each one JSON document
        docs = [json.loads(m) for m in _gzip_members(path.read_bytes())]
        if docs[0]["messageType"] == "CONTROL_MESSAGE":
            control = docs.pop(0)
            assert (control["owner"], control["logGroup"], control["subscriptionFilters"]) == (
                "CloudwatchLogs", "", [])
            assert [e["message"] for e in control["logEvents"]] == [
                "CWL CONTROL MESSAGE: Checking health of destination Firehose."]
            controls.append(at)
        windows = set()
        for doc in docs:
            assert list(doc) == envelope_keys and doc["messageType"] == "DATA_MESSAGE"
            assert (doc["owner"], doc["logGroup"], doc["logStream"]) == (
                account, f"aws-cloudtrail-logs-{account}", f"{account}_CloudTrail_{region}")
            seconds = set()
            for event in doc["logEvents"]:
                record = json.loads(event["message"])
                when = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
                assert event["timestamp"] == when.replace(tzinfo=UTC).timestamp() * 1000
                assert (record["awsRegion"], record["recipientAccountId"]) == (region, account)
                assert len(event["id"]) == 56 and event["id"].isdigit()
                seconds.add(when.hour * 3600 + when.minute * 60 + when.second)
                ids.append(record["eventID"])
            assert len({s // 300 for s in seconds}) == 1  # one CloudTrail delivery an envelope
            windows |= {s // 900 for s in seconds}
        assert len(windows) == 1  # one Firehose buffer (15 minutes) an object
        window_end = (windows.pop() + 1) * 900
        assert at.hour * 3600 + at.minute * 60 == min(window_end, 86_340)
    assert len(ids) == len(set(ids)) == landing[1].firehose_cloudtrail.records
    assert not set(ids) & {event["eventID"] for _, event in trail}  # never also native
    assert controls == [min(delivered), min(d for d in delivered if d.hour >= 12)]


def test_guardduty_exports_a_routine_day_and_the_miner(findings: list[dict[str, Any]]) -> None:
    for found in findings:
        assert found["schemaVersion"] == "2.0" and found["service"]["serviceName"] == "guardduty"
        assert found["arn"].endswith(f"/finding/{found['id']}")
        assert found["service"]["archived"] is False
    routine = [f for f in findings if f["type"] != ATTACK.finding_type]
    assert routine and all(f["severity"] <= 2 for f in routine)
    crypto = [f for f in findings if f["type"] == ATTACK.finding_type]
    assert len({f["id"] for f in crypto}) == 1 and len(crypto) == 2
    first = min(crypto, key=lambda f: f["updatedAt"])
    assert first["severity"] == ATTACK.finding_severity
    assert first["createdAt"].startswith(ATTACK.finding_created.strftime("%Y-%m-%dT%H:%M:%S"))
    details = first["resource"]["instanceDetails"]
    assert details["instanceId"] == ATTACK.instance_ids[0]
    assert details["networkInterfaces"][0]["networkInterfaceId"] == ATTACK.eni_ids[0]
    action = first["service"]["action"]
    connection = action["networkConnectionAction"]
    assert action["actionType"] == "NETWORK_CONNECTION"
    assert connection["connectionDirection"] == "OUTBOUND"
    assert connection["remoteIpDetails"]["ipAddressV4"] == ATTACK.pool_ip
    assert connection["remotePortDetails"]["port"] == ATTACK.pool_port


def test_routine_activity_is_benign(trail: list[tuple[str, dict[str, Any]]]) -> None:
    routine = [e for _, e in trail if not _is_attack(e)]
    assert all(e["userIdentity"].get("type") != "Root" for e in routine)
    assert not any("aws-sdk-go" in e["userAgent"] for e in routine)
    assert not any(e["sourceIPAddress"] == ATTACK.attacker_ip for e in routine)
    names = Counter(e["eventName"] for e in routine)
    assert names["ImportKeyPair"] == names["AuthorizeSecurityGroupIngress"] == 0
    # The one routine call a detection raises: CI's nightly key rotation for a service user.
    made = [e for e in routine if e["eventName"] in ("CreateAccessKey", "DeleteAccessKey")]
    assert [(e["eventName"], e["requestParameters"]["userName"], e["sourceIPAddress"],
             e["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"]) for e in made] == [
        (name, ROTATED_USER, CI_IP, ROTATION_ROLE)
        for name in ("CreateAccessKey", "DeleteAccessKey")]
    new_key = made[0]["responseElements"]["accessKey"]["accessKeyId"]
    assert new_key != made[1]["requestParameters"]["accessKeyId"]  # yesterday's key goes
    for run in (e for e in routine if e["eventName"] == "RunInstances"):
        assert run["userIdentity"]["userName"] == "ci-deployer"
        assert run["requestParameters"]["instanceType"] == "t3.micro"
        assert run["requestParameters"]["instancesSet"]["items"][0]["maxCount"] == 1
    logins = [e for e in routine if e["eventName"] == "ConsoleLogin"]
    users = [e for e in logins if e["userIdentity"]["type"] == "IAMUser"]
    assert users and all(e["additionalEventData"]["MFAUsed"] == "Yes" for e in users)
    types = Counter(e["userIdentity"].get("type") for e in routine)
    assert {"IAMUser", "AssumedRole", "AWSService"} <= set(types)
    assert Counter(e["eventType"] for e in routine)["AwsServiceEvent"] >= 2
    assert 3 <= sum(1 for e in routine if e.get("errorCode")) <= 60
    agents = " ".join({e["userAgent"] for e in routine})
    for sdk in ("aws-cli/2.", "Boto3/1.", "aws-sdk-java", "Terraform", "console.amazonaws.com"):
        assert sdk in agents


def test_generation_is_byte_identical(
    files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    again = tmp_path_factory.mktemp("again")
    generate(again)

    def digests(found: dict[str, Path]) -> dict[str, str]:
        return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in found.items()}

    assert digests(_files(again)) == digests(files)


def test_hours_keep_exactly_the_day_files_delivered_in_them(
    files: dict[str, Path], landing: tuple[Path, Summary], tmp_path: Path
) -> None:
    summary = generate(tmp_path, hours=(13, 14))
    part = _files(tmp_path)
    stamp = re.compile(r"_20261120T(\d{2})\d{2,4}Z[_.]")

    def delivered(key: str) -> int | None:
        """The delivery hour: the key's stamp, a Firehose object's prefix, or a Security Lake
        object's: the end of the hour its rows belong to (kept inside the day)."""
        if (m := stamp.search(key.rsplit("/", 1)[-1])) is not None:
            return int(m.group(1))
        if _source(key) == "firehose_cloudtrail":
            return int(LAYOUT["firehose_cloudtrail"].fullmatch(key).group(6))  # type: ignore[union-attr]
        if _source(key).startswith("security_lake"):
            first = min(pq.read_table(files[key], columns=["time"]).column("time").to_pylist())
            return min(datetime.fromtimestamp(first / 1000, UTC).hour + 1, 23)
        return None

    expected = {k for k in files if delivered(k) in (None, 13, 14)}
    assert set(part) == expected
    assert {_source(k) for k in part} >= {
        "security_lake_cloudtrail", "security_lake_vpcflow", "firehose_cloudtrail"}
    assert all(part[k].read_bytes() == files[k].read_bytes() for k in part)
    assert summary.guardduty == landing[1].guardduty  # exports name no delivery time: all kept
    assert 0 < summary.cloudtrail.files < landing[1].cloudtrail.files
    assert summary.cloudtrail.records == sum(
        len(json.loads(gzip.decompress(p.read_bytes()))["Records"])
        for k, p in part.items() if _source(k) == "cloudtrail"
    )
    assert summary.vpcflow.records == sum(
        len(_flow_table(p)[1]) for k, p in part.items() if _is_flow(k)
    )
    assert 0 < summary.dns.records == sum(
        len(_lines(p)) for k, p in part.items() if _source(k) == "dns"
    ) < landing[1].dns.records
    for name in ("security_lake_cloudtrail", "security_lake_vpcflow"):
        assert 0 < getattr(summary, name).records == sum(
            pq.read_metadata(p).num_rows for k, p in part.items() if _source(k) == name
        ) < getattr(landing[1], name).records
    assert 0 < summary.firehose_cloudtrail.records == sum(
        len(json.loads(m)["logEvents"]) for k, p in part.items()
        if _source(k) == "firehose_cloudtrail" for m in _gzip_members(p.read_bytes())
        if json.loads(m)["messageType"] == "DATA_MESSAGE"
    ) < landing[1].firehose_cloudtrail.records
    with pytest.raises(ValueError, match="hours"):
        generate(tmp_path / "bad", hours=(15, 13))


def test_without_security_lake_nor_firehose_the_sites_are_delivered_natively(
    tmp_path: Path,
) -> None:
    """What the benchmark generates: its baselines read only the native formats."""
    summary = generate(tmp_path, hours=(14, 14), security_lake=False, firehose=False)
    part = _files(tmp_path)
    assert (summary.security_lake_cloudtrail, summary.security_lake_vpcflow) == (Count(), Count())
    assert summary.firehose_cloudtrail == Count()
    assert not [k for k in part if _source(k).startswith(("security_lake", "firehose"))]
    native = {_source(k) for k in part if _source(k) in ("cloudtrail", "vpcflow_parquet")
              and (_account(k), _region(k)) == SECURITY_LAKE_SITE}
    assert native == {"cloudtrail", "vpcflow_parquet"}
    assert [k for k in part if _source(k) == "cloudtrail"
            and (_account(k), _region(k)) == FIREHOSE_SITE]


def test_remediation_adds_the_clean_up_beside_the_day(
    files: dict[str, Path], tmp_path: Path
) -> None:
    summary = write_remediation(tmp_path)
    added = _files(tmp_path)
    assert summary.cloudtrail.files == len(added) == 2
    assert not set(added) & set(files)
    assert all(_source(k) == "cloudtrail" for k in added)
    events = [
        e for p in added.values() for e in json.loads(gzip.decompress(p.read_bytes()))["Records"]
    ]
    assert {e["eventName"] for e in events} >= REMEDIATION_NAMES
    start, end = (
        t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (ATTACK.remediation_start, ATTACK.remediation_end)
    )
    assert all(start <= e["eventTime"] <= end for e in events)
    by_name = {e["eventName"]: e for e in events if not e.get("errorCode")}
    assert by_name["UpdateAccessKey"]["requestParameters"] == {
        "accessKeyId": ATTACK.access_key_id,
        "status": "Inactive",
    }
    assert by_name["DeleteAccessKey"]["requestParameters"]["accessKeyId"] == ATTACK.access_key_id
    terminated = by_name["TerminateInstances"]["requestParameters"]["instancesSet"]["items"]
    assert tuple(i["instanceId"] for i in terminated) == ATTACK.instance_ids
    assert (
        by_name["DeleteSecurityGroup"]["requestParameters"]["groupId"] == ATTACK.security_group_id
    )
    assert by_name["DeleteKeyPair"]["requestParameters"]["keyName"] == ATTACK.key_name


def test_days_share_long_lived_ids_but_not_event_ids(tmp_path: Path) -> None:
    account = build_account(7, 0)
    one, two = (
        build_roster(7, Clock(d), account) for d in (date(2026, 11, 20), date(2026, 11, 21))
    )
    keys = [
        {a.name: a.faces[0][0].get("accessKeyId") for a in r.actors if a.name.endswith("-cli")}
        for r in (one, two)
    ]
    assert keys[0] == keys[1] and all(k and k.startswith("AKIA") for k in keys[0].values())
    assert one.logins != two.logins
    event_ids = []
    for day in (date(2026, 11, 20), date(2026, 11, 21)):
        write_remediation(tmp_path / day.isoformat(), day=day)
        event_ids.append(
            {
                e["eventID"]
                for p in _files(tmp_path / day.isoformat()).values()
                for e in json.loads(gzip.decompress(p.read_bytes()))["Records"]
            }
        )
    assert event_ids[0] and not event_ids[0] & event_ids[1]


def test_scale_sets_volumes_linearly() -> None:
    assert (
        Plan.of(0, ATTACK.start.date(), 7).events,
        Plan.of(0, ATTACK.start.date(), 7).flows,
    ) == (
        5_000,
        6_000,
    )
    assert Plan.of(0.01, ATTACK.start.date(), 7).events == 10_000
    big = Plan.of(1, ATTACK.start.date(), 7)
    assert (big.events, big.flows, big.accounts) == (1_000_000, 5_000_000, 4)
    assert sum(big.share(i) for i in range(big.accounts)) == pytest.approx(1)
    with pytest.raises(ValueError, match="scale"):
        Plan.of(-1, ATTACK.start.date(), 7)


def test_cli_writes_remediation_and_prints_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path), "--remediation"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^cloudtrail\s+2 files\s+\d+ records$", out, re.MULTILINE)
    assert "wrote" in out


def test_documented_fields_match_the_aws_field_list(shared_real: Path) -> None:
    with (shared_real / "aws-docs" / "vpcflow" / "flow-log-fields.csv").open() as handle:
        aws = {row["field"] for row in csv.DictReader(handle) if int(row["version"]) <= 5}
    assert aws == DOCUMENTED
