"""Accounts on a local moto server (never real AWS) for the remediate tests: the server, with
dummy credentials in the environment; clients in the credentials' own account (moto's default) or
in another through an assumed role; what an attacker left in an account; a recorder of the calls
a plan makes, and readers of what ``carry_out`` printed and left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from jobs.commands.remediate import boto3_clients
from tests.support.ports import free_port

REGION = "us-east-1"
HOME = "123456789012"  # moto's default account: the credentials' own
TEMPLATE = "arn:aws:iam::{account}:role/TrailwardenResponder"


def moto_accounts(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server on a free 127.0.0.1 port, reset, with the environment's credentials pointing
    at it for one test (``monkeypatch``); yields its URL and stops it afterwards."""
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


def moto_client(endpoint: str, service: str, account: str = HOME) -> Any:
    """A client in ``account``: the default credentials, or a role assumed in the other."""
    if account == HOME:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)
    return boto3_clients(endpoint, role_credentials(endpoint, account))(service, REGION)


def role_credentials(endpoint: str, account: str) -> dict[str, Any]:
    sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint)
    role = TEMPLATE.format(account=account)
    return sts.assume_role(RoleArn=role, RoleSessionName="attacker")["Credentials"]


def stage_attack(endpoint: str, account: str = HOME) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an attacker left in a (moto) account, as the incident's scope and key owners."""
    iam, ec2 = moto_client(endpoint, "iam", account), moto_client(endpoint, "ec2", account)
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
            "account_id": account,
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
                "account_id": account,
            }
        ],
        "security_groups": [
            {
                "group_id": group,
                "group_name": "maint-ssh",
                "created": True,
                "region": REGION,
                "account_id": account,
            }
        ],
        "key_pairs": [
            {
                "key_name": "svc-maint",
                "key_pair_id": pair["KeyPairId"],
                "region": REGION,
                "account_id": account,
            }
        ],
    }
    return scope, {key: {"is_root": False, "user_name": "ci-bot", "account_id": account}}


def recording(clients: Any, calls: list[tuple[str, str, dict[str, Any]]]) -> Any:
    """``clients`` whose calls (service, method, parameters; dry runs left out) are recorded."""

    class Spy:
        def __init__(self, service: str, client: Any) -> None:
            self.service, self.client = service, client

        def __getattr__(self, method: str) -> Any:
            def call(**params: Any) -> Any:
                if not params.get("DryRun"):
                    calls.append((self.service, method, params))
                return getattr(self.client, method)(**params)

            return call

    return lambda service, region: Spy(service, clients(service, region))


def statuses_of(lines: list[str]) -> list[tuple[str, str]]:
    """(action, status) of each executed line (``  3. action resource: status (message)``)."""
    out = []
    for line in lines[lines.index("executed:") + 1 :]:
        if line.startswith("  "):
            action, rest = line.split(". ", 1)[1].split(" ", 1)
            out.append((action, rest.split(": ", 1)[1].split(" ", 1)[0]))
    return out


def key_pairs_in(endpoint: str, account: str) -> list[str]:
    return [
        k["KeyName"] for k in moto_client(endpoint, "ec2", account).describe_key_pairs()["KeyPairs"]
    ]
