"""Carrying out a plan with boto3 against a local moto server (never real AWS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from jobs.commands.remediate import boto3_clients, carry_out
from jobs.incidents.execute import dry_run, to_call
from jobs.incidents.plan import build_plan
from tests.support.ports import free_port

REGION = "us-east-1"


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10)  # moto's state is per process
    try:
        yield url
    finally:
        server.stop()


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def _attack(endpoint: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an attacker left in the (moto) account, as the incident's scope and key owners."""
    iam, ec2 = _client(endpoint, "iam"), _client(endpoint, "ec2")
    iam.create_user(UserName="ci-bot")
    key = iam.create_access_key(UserName="ci-bot")["AccessKey"]["AccessKeyId"]
    pair = ec2.create_key_pair(KeyName="svc-maint")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="maint-ssh", Description="x", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    run = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=2,
        MaxCount=2,
        InstanceType="c5.4xlarge",
        KeyName="svc-maint",
        SecurityGroupIds=[group],
    )
    instances = [
        {
            "instance_id": i["InstanceId"],
            "instance_type": "c5.4xlarge",
            "region": REGION,
            "account_id": "123456789012",
        }
        for i in run["Instances"]
    ]
    scope = {
        "instances": instances,
        "ingress_rules": [
            {
                "group_id": group,
                "rule_id": None,
                "protocol": "tcp",
                "from_port": 22,
                "to_port": 22,
                "cidr": "0.0.0.0/0",
                "region": REGION,
                "account_id": "123456789012",
            }
        ],
        "security_groups": [
            {"group_id": group, "group_name": "maint-ssh", "created": True, "region": REGION}
        ],
        "key_pairs": [
            {"key_name": "svc-maint", "key_pair_id": pair["KeyPairId"], "region": REGION}
        ],
    }
    return scope, {key: {"is_root": False, "user_name": "ci-bot", "account_id": "123456789012"}}


def test_commands_map_back_to_allowlisted_calls() -> None:
    call = to_call(
        "aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0"
    )
    assert (call.service, call.region, call.method, call.params) == (
        "ec2",
        "us-east-1",
        "terminate_instances",
        {"InstanceIds": ["i-0123456789abcdef0"]},
    )
    for bad in (
        "aws s3 rb s3://bucket --force",
        "rm -rf /",
        "aws ec2 terminate-instances --dry-run-off x",
    ):
        with pytest.raises(ValueError):
            to_call(bad)


def test_execute_carries_out_the_plan_after_a_dry_run(endpoint: str) -> None:
    scope, owners = _attack(endpoint)
    plan = build_plan(scope, owners)
    assert [a["action"] for a in plan] == [
        "deactivate_access_key",
        "delete_access_key",
        "terminate_instance",
        "terminate_instance",
        "revoke_ingress",
        "delete_security_group",
        "delete_key_pair",
    ]
    lines: list[str] = []
    prompts: list[str] = []
    code = carry_out(
        plan,
        boto3_clients(endpoint),
        lambda p: prompts.append(p) or True,
        lines.append,
        retry_seconds=20,
    )
    assert code == 0, "\n".join(lines)
    assert prompts == ["Execute 7 action(s) against AWS? [y/N] "]
    dry = lines[: lines.index("executed:")]
    assert sum("would-succeed (DryRunOperation)" in line for line in dry) == 5  # every EC2 action
    assert sum("no-dry-run" in line for line in dry) == 2  # IAM has none
    ec2, iam = _client(endpoint, "ec2"), _client(endpoint, "iam")
    ids = [i["instance_id"] for i in scope["instances"]]
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert set(states.values()) <= {"shutting-down", "terminated"}
    assert iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"] == []
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    with pytest.raises(ClientError):
        ec2.describe_security_groups(GroupIds=[scope["security_groups"][0]["group_id"]])


def test_nothing_changes_without_confirmation(endpoint: str) -> None:
    scope, owners = _attack(endpoint)
    lines: list[str] = []
    assert (
        carry_out(
            build_plan(scope, owners), boto3_clients(endpoint), lambda _p: False, lines.append
        )
        == 1
    )
    assert lines[-1] == "not confirmed: nothing was changed."
    ec2 = _client(endpoint, "ec2")
    ids = [i["instance_id"] for i in scope["instances"]]
    states = [
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    ]
    assert states == ["running", "running"]
    assert len(ec2.describe_key_pairs()["KeyPairs"]) == 1


def test_gone_done_and_console_actions_are_not_executed(endpoint: str) -> None:
    plan = build_plan(
        {
            "instances": [
                {
                    "instance_id": "i-0123456789abcdef0",
                    "region": REGION,
                    "account_id": "123456789012",
                }
            ],
            "key_pairs": [
                {"key_name": "k", "key_pair_id": "key-0123456789abcdef0", "region": REGION}
            ],
        },
        {"AKIAAAAABBBBCCCCDDDD": {"is_root": True, "account_id": "123456789012"}},
    )
    plan[-1]["done"] = True  # CloudTrail already shows the key pair deleted
    checked = dry_run(plan, boto3_clients(endpoint))
    assert [o.status for o in checked] == ["manual", "manual", "would-succeed", "already-done"]
    lines: list[str] = []
    assert carry_out(plan, boto3_clients(endpoint), lambda _p: True, lines.append) == 0
    executed = lines[lines.index("executed:") + 1 :]
    assert [line.split(": ", 1)[1].split(" ")[0] for line in executed[:4]] == [
        "manual",
        "manual",
        "gone",
        "already-done",
    ]  # the instance no longer exists: not a failure
    assert lines[-1].startswith("2 action(s) need the console")
