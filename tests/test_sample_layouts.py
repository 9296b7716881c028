"""The sample landing zone's S3 layout and volumes: every key follows its source's delivery
layout, files are plain gzip without a timestamp (or Parquet), the demo scale's counts, Security
Lake objects holding the OCSF rows their key names, and GuardDuty exporting a routine day and the
miner. The landing zone is generated once per session (``sample_landing`` in
``tests/conftest.py``)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from devtools.sample.cli import ATTACK, Count, Summary
from devtools.sample.landscape import FIREHOSE_SITE, SECURITY_LAKE_SITE
from tests.support.sample_files import LAYOUT, account_of, lines_of, region_of, source_of

PARQUET = ("vpcflow_parquet", "security_lake_cloudtrail", "security_lake_vpcflow")


@pytest.fixture(scope="module")
def findings(sample_files: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for key, path in sample_files.items()
        if source_of(key) == "guardduty"
        for line in lines_of(path)
    ]


def test_every_file_follows_the_s3_delivery_layout(
    sample_landing: tuple[Path, Summary], sample_files: dict[str, Path]
) -> None:
    unmatched = [k for k in sample_files if not any(p.fullmatch(k) for p in LAYOUT.values())]
    assert not unmatched
    by_source = Counter(source_of(k).removesuffix("_parquet") for k in sample_files)
    summary = sample_landing[1]
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
    assert {account_of(k) for k in sample_files} == {"111122223333", "444455556666"}
    org = {account_of(k) for k in sample_files if k.startswith("AWSLogs/o-")}
    parquet = {account_of(k) for k in sample_files if source_of(k) == "vpcflow_parquet"}
    assert org == parquet == {"444455556666"}
    keys = sample_files
    assert not any(account_of(k) == "444455556666" for k in keys if source_of(k) == "vpcflow")
    # Security Lake's region is written only as Security Lake: no native trail or flow file.
    lake = {(account_of(k), region_of(k)) for k in keys if source_of(k).startswith("security_lake")}
    assert lake == {SECURITY_LAKE_SITE}
    assert not [k for k in keys if source_of(k) in ("cloudtrail", "vpcflow", "vpcflow_parquet")
                and (account_of(k), region_of(k)) == SECURITY_LAKE_SITE]
    # Firehose's trail region likewise: no native trail file (its flow logs stay native).
    hose = {(account_of(k), region_of(k)) for k in keys if source_of(k) == "firehose_cloudtrail"}
    assert hose == {FIREHOSE_SITE}
    assert not [k for k in sample_files if source_of(k) == "cloudtrail"
                and (account_of(k), region_of(k)) == FIREHOSE_SITE]


def test_files_are_plain_gzip_without_timestamp(sample_files: dict[str, Path]) -> None:
    for key, path in sample_files.items():
        head = path.read_bytes()[:10]
        if source_of(key) in PARQUET:
            assert head[:4] == b"PAR1", path
            continue
        assert head[:3] == b"\x1f\x8b\x08" and head[4:8] == b"\0\0\0\0", path


def test_scale_zero_is_the_demo_size(sample_landing: tuple[Path, Summary]) -> None:
    summary = sample_landing[1]
    assert 3_000 <= summary.cloudtrail.records <= 8_000
    assert 5_000 <= summary.vpcflow.records <= 20_000
    assert summary.guardduty.records == 4
    assert summary.dns.records == 1_520  # ~0.25 lookups per routine flow, plus 20 by the miners
    # dev's us-west-2 (SECURITY_LAKE_SITE): its routine calls and flow records, as Security Lake
    assert summary.security_lake_cloudtrail == Count(files=24, records=287)
    assert summary.security_lake_vpcflow == Count(files=24, records=368)
    # prod's us-west-2 (FIREHOSE_SITE): its CloudTrail, one object per 15 minutes with events
    assert summary.firehose_cloudtrail == Count(files=89, records=474)


def test_security_lake_objects_hold_ocsf_rows_of_their_key(
    sample_landing: tuple[Path, Summary], sample_files: dict[str, Path]
) -> None:
    classes = {"security_lake_cloudtrail": 6003, "security_lake_vpcflow": 4001}
    rows: Counter[str] = Counter()
    for key, path in sample_files.items():
        if (source := source_of(key)) in classes:
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
    assert rows == {k: getattr(sample_landing[1], k).records for k in classes}


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
