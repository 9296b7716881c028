"""The sample's CloudTrail: well-formed records in the hourly files, digests that list those
files by hash, Firehose objects holding CloudWatch Logs envelopes of their key's account and
region, the attack's calls exactly as its ground truth, and routine activity that stays benign
but for CI's nightly key rotation. The landing zone is generated once per session
(``sample_landing`` in ``tests/conftest.py``)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.sample.cli import ATTACK, Summary
from devtools.sample.identities import CI_IP
from devtools.sample.landscape import FIREHOSE_SITE
from devtools.sample.scheduled import ROTATED_USER, ROTATION_ROLE
from tests.support.sample_files import LAYOUT, UUID, gzip_members, source_of

ATTACK_NAMES = [
    "GetCallerIdentity", "GetCallerIdentity", "DescribeRegions", "DescribeInstances",
    "ImportKeyPair", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress", "RunInstances",
]  # fmt: skip


def _is_attack(event: dict[str, Any]) -> bool:
    return bool(event["userIdentity"].get("accessKeyId") == ATTACK.access_key_id)


@pytest.fixture(scope="module")
def trail(sample_files: dict[str, Path]) -> list[tuple[str, dict[str, Any]]]:
    """Every CloudTrail record with the key of the file holding it."""
    out = []
    for key, path in sample_files.items():
        if source_of(key) == "cloudtrail":
            body = json.loads(gzip.decompress(path.read_bytes()))
            assert list(body) == ["Records"] and isinstance(body["Records"], list), key
            assert body["Records"], key
            out += [(key, record) for record in body["Records"]]
    return out


def test_cloudtrail_records_are_well_formed(
    sample_landing: tuple[Path, Summary], trail: list[tuple[str, dict[str, Any]]]
) -> None:
    assert len(trail) == sample_landing[1].cloudtrail.records
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


def test_digests_list_the_hourly_log_files_by_hash(sample_files: dict[str, Path]) -> None:
    digests = [p for k, p in sample_files.items() if source_of(k) == "cloudtrail_digest"]
    assert len(digests) == 48
    listed = 0
    for path in digests:
        digest = json.loads(gzip.decompress(path.read_bytes()))
        assert "Records" not in digest
        assert digest["digestStartTime"] < digest["digestEndTime"]
        for log in digest["logFiles"]:
            body = gzip.decompress(sample_files[log["s3Object"]].read_bytes())
            assert hashlib.sha256(body).hexdigest() == log["hashValue"]
            listed += 1
    assert listed > 400


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


def test_firehose_objects_hold_cloudwatch_logs_envelopes_of_their_key(
    sample_landing: tuple[Path, Summary],
    sample_files: dict[str, Path],
    trail: list[tuple[str, dict[str, Any]]],
) -> None:
    account, region = FIREHOSE_SITE
    envelope_keys = ["messageType", "owner", "logGroup", "logStream", "subscriptionFilters",
                     "logEvents"]
    delivered, controls, ids = [], [], []
    for key, path in sample_files.items():
        if source_of(key) != "firehose_cloudtrail":
            continue
        name = key.rsplit("/", 1)[-1].removeprefix(f"cwl-cloudtrail-{account}-{region}-1-")
        at = datetime.strptime(name[:19], "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
        assert key.startswith(f"firehose/cloudtrail/{at:%Y/%m/%d/%H}/")
        delivered.append(at)
        # one gzip member per CloudWatch Logs delivery, each one JSON document
        docs = [json.loads(m) for m in gzip_members(path.read_bytes())]
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
    assert len(ids) == len(set(ids)) == sample_landing[1].firehose_cloudtrail.records
    assert not set(ids) & {event["eventID"] for _, event in trail}  # never also native
    assert controls == [min(delivered), min(d for d in delivered if d.hour >= 12)]


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
