"""Carrying out a plan with boto3 against a local moto server (never real AWS), in two accounts:
the credentials' own (moto's default) and another reached only through an assumed role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from jobs.commands.remediate import boto3_clients, carry_out, role_assumer
from jobs.incidents.execute import dry_run, route, to_call
from jobs.incidents.plan import build_plan
from tests.support.ports import free_port

REGION = "us-east-1"
HOME = "123456789012"  # moto's default account: the credentials' own
OTHER = "210987654321"
TEMPLATE = "arn:aws:iam::{account}:role/TrailwardenResponder"


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


def _client(endpoint: str, service: str, account: str = HOME) -> Any:
    """A client in ``account``: the default credentials, or a role assumed in the other."""
    if account == HOME:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint)
    return boto3_clients(endpoint, _role_credentials(endpoint, account))(service, REGION)


def _role_credentials(endpoint: str, account: str) -> dict[str, Any]:
    sts = boto3.client("sts", region_name=REGION, endpoint_url=endpoint)
    role = TEMPLATE.format(account=account)
    return sts.assume_role(RoleArn=role, RoleSessionName="attacker")["Credentials"]


def _attack(endpoint: str, account: str = HOME) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an attacker left in a (moto) account, as the incident's scope and key owners."""
    iam, ec2 = _client(endpoint, "iam", account), _client(endpoint, "ec2", account)
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


def _recording(clients: Any, calls: list[tuple[str, str, dict[str, Any]]]) -> Any:
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


def test_commands_map_back_to_allowlisted_calls() -> None:
    action = build_plan(
        {
            "instances": [
                {"instance_id": "i-0123456789abcdef0", "region": REGION, "account_id": HOME}
            ]
        },
        {},
    )[0]
    call = to_call(action)
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
            to_call(action | {"command": bad})


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
    calls: list[tuple[str, str, dict[str, Any]]] = []
    code = carry_out(
        plan,
        _recording(boto3_clients(endpoint), calls),
        lambda p: prompts.append(p) or True,
        lines.append,
        retry_seconds=20,
    )
    assert code == 0, "\n".join(lines)
    # the key pair goes by its id (moto ignores KeyPairId when deleting: checked on the call)
    pair_id = scope["key_pairs"][0]["key_pair_id"]
    assert ("ec2", "delete_key_pair", {"KeyPairId": pair_id}) in calls
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
                    "account_id": HOME,
                }
            ],
            "key_pairs": [
                {
                    "key_name": "k",
                    "key_pair_id": "key-0123456789abcdef0",
                    "region": REGION,
                    "account_id": HOME,
                }
            ],
        },
        {"AKIAAAAABBBBCCCCDDDD": {"is_root": True, "account_id": HOME}},
    )
    plan[-1]["done"] = True  # CloudTrail already shows the key pair deleted
    checked = dry_run(plan, route(plan, boto3_clients(endpoint), None))
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


def _statuses(lines: list[str]) -> list[tuple[str, str]]:
    """(action, status) of each executed line (``  3. action resource: status (message)``)."""
    out = []
    for line in lines[lines.index("executed:") + 1 :]:
        if line.startswith("  "):
            action, rest = line.split(". ", 1)[1].split(" ", 1)
            out.append((action, rest.split(": ", 1)[1].split(" ", 1)[0]))
    return out


def _key_pairs(endpoint: str, account: str) -> list[str]:
    return [
        k["KeyName"] for k in _client(endpoint, "ec2", account).describe_key_pairs()["KeyPairs"]
    ]


def _two_account_plan(endpoint: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """An attack in the other account, the stolen key in this one, and an ``Admin`` role of the
    same name in both: the key assumed the OTHER account's Admin."""
    scope, _ = _attack(endpoint, OTHER)
    for account in (HOME, OTHER):
        _client(endpoint, "iam", account).create_role(
            RoleName="Admin", AssumeRolePolicyDocument="{}"
        )
    iam = _client(endpoint, "iam")
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    scope["assumed_roles"] = [
        {"role_arn": f"arn:aws:iam::{OTHER}:role/Admin", "account_id": HOME}  # the call's account
    ]
    scope["revoke_before"] = "2026-11-20T15:00:00Z"
    plan = build_plan(scope, {key: {"is_root": False, "user_name": "dev", "account_id": HOME}})
    return plan, scope


def _inline_policies(endpoint: str, account: str) -> list[str]:
    return _client(endpoint, "iam", account).list_role_policies(RoleName="Admin")["PolicyNames"]


def test_an_action_in_another_account_is_refused_without_a_role(endpoint: str) -> None:
    plan, scope = _two_account_plan(endpoint)
    revoke = next(a for a in plan if a["action"] == "revoke_role_sessions")
    assert (revoke["account_id"], revoke["resource_id"]) == (
        OTHER,
        f"arn:aws:iam::{OTHER}:role/Admin",
    )
    lines: list[str] = []
    assert carry_out(plan, boto3_clients(endpoint), lambda _p: True, lines.append) == 1
    assert lines[0] == (
        f"refused: Account {OTHER} is not the credentials' account {HOME} and no "
        "remediate.role_arn_template is configured: nothing in it was run."
    )
    assert _statuses(lines) == [
        ("deactivate_access_key", "done"),
        ("delete_access_key", "done"),
        ("revoke_role_sessions", "refused"),
        ("terminate_instance", "refused"),
        ("terminate_instance", "refused"),
        ("revoke_ingress", "refused"),
        ("delete_security_group", "refused"),
        ("delete_key_pair", "refused"),
    ]
    # nothing ran in the other account, and this account's same-named role was never touched
    assert _key_pairs(endpoint, OTHER) == ["svc-maint"]
    assert _inline_policies(endpoint, HOME) == [] and _inline_policies(endpoint, OTHER) == []
    assert _client(endpoint, "iam").list_access_keys(UserName="dev")["AccessKeyMetadata"] == []


def test_another_account_runs_through_the_configured_role(endpoint: str) -> None:
    plan, scope = _two_account_plan(endpoint)
    clients = boto3_clients(endpoint)
    calls: list[tuple[str, str, dict[str, Any]]] = []
    assume = role_assumer(TEMPLATE, "trailwarden-remediate", clients, endpoint)
    assert assume is not None
    lines: list[str] = []
    code = carry_out(
        plan,
        clients,
        lambda _p: True,
        lines.append,
        retry_seconds=20,
        assume=lambda account: _recording(assume(account), calls),
    )
    assert code == 0, "\n".join(lines)
    assert _inline_policies(endpoint, OTHER) == ["AWSRevokeOlderSessions"]
    assert _inline_policies(endpoint, HOME) == []  # never this account's own Admin
    ids = [i["instance_id"] for i in scope["instances"]]
    ec2 = _client(endpoint, "ec2", OTHER)
    states = {
        i["State"]["Name"]
        for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert states <= {"shutting-down", "terminated"}
    assert {(s, m) for s, m, _ in calls} >= {
        ("iam", "put_role_policy"),
        ("ec2", "terminate_instances"),
        ("ec2", "delete_key_pair"),
    }


def test_a_role_that_lands_in_the_wrong_account_is_refused(endpoint: str) -> None:
    plan, _ = _two_account_plan(endpoint)
    clients = boto3_clients(endpoint)
    routes = route(plan, clients, lambda _account: clients)  # "assumes" into the home account
    assert routes.refused == {
        OTHER: f"The role assumed for account {OTHER} acts in account {HOME}: nothing in "
        f"account {OTHER} was run."
    }
    assert set(routes.clients) == {HOME}


def test_a_dash_prefixed_name_neither_injects_nor_stops_the_other_actions(
    endpoint: str,
) -> None:
    ec2 = _client(endpoint, "ec2")
    ec2.create_key_pair(KeyName="--region=eu-west-1")
    ec2.create_key_pair(KeyName="prod-deploy")
    run = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
    iid = run["Instances"][0]["InstanceId"]
    plan = build_plan(
        {
            "instances": [{"instance_id": iid, "region": REGION, "account_id": HOME}],
            "key_pairs": [
                {
                    "key_name": "--region=eu-west-1",
                    "key_pair_id": None,
                    "region": REGION,
                    "account_id": HOME,
                },
            ],
        },
        {},
    )
    pair = plan[1]
    assert pair["command"] is None and pair["console_steps"]  # no command names it
    # a plan stored by an older version: the name lands where the CLI reads an option
    old = dict(pair, command="aws ec2 delete-key-pair --region us-east-1 --key-name --key-name")
    lines: list[str] = []
    assert carry_out([plan[0], old], boto3_clients(endpoint), lambda _p: True, lines.append) == 1
    executed = lines[lines.index("executed:") + 1 :]
    assert executed[0].endswith(": done (terminate_instances)")
    assert executed[1] == (
        "    2. delete_key_pair --region=eu-west-1: refused (step 2: the stored command does not "
        "match its delete_key_pair action's validated arguments; it was not run.)"
    )
    assert sorted(_key_pairs(endpoint, HOME)) == ["--region=eu-west-1", "prod-deploy"]


ADMIN = f"arn:aws:iam::{HOME}:policy/Everything"


def test_persistence_on_existing_users_and_roles_is_planned_and_removed(endpoint: str) -> None:
    iam = _client(endpoint, "iam")
    iam.create_user(UserName="alice")
    own_key = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.create_group(GroupName="Admins")
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument="{}")
    trust = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", '
        '"Principal": {"AWS": "arn:aws:iam::999999999999:root"}}]}'
    )
    everything = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )
    iam.create_policy(PolicyName="Everything", PolicyDocument=everything)
    # the attacker's backdoors on identities that existed before the incident
    backdoor = iam.create_access_key(UserName="alice")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="alice", Password="Attacker-Pass-1")
    iam.attach_user_policy(UserName="alice", PolicyArn=ADMIN)
    iam.put_user_policy(UserName="alice", PolicyName="all", PolicyDocument=everything)
    iam.add_user_to_group(UserName="alice", GroupName="Admins")
    iam.attach_role_policy(RoleName="ops", PolicyArn=ADMIN)
    iam.put_role_policy(RoleName="ops", PolicyName="all", PolicyDocument=everything)
    iam.update_assume_role_policy(RoleName="ops", PolicyDocument=trust)

    def part(kind: str, rid: str, owner: str) -> dict[str, Any]:
        return {"kind": kind, "resource_id": rid, "user_name": owner, "account_id": HOME}

    plan = build_plan(
        {
            "iam": [  # as ``scope.iam`` lists them (extract.CREATED_SQL, assemble.resources)
                part("access_key", backdoor, "alice"),
                part("login_profile", "alice", "alice"),
                part("user_policy_attachment", ADMIN, "alice"),
                part("inline_policy", "all", "alice"),
                part("group_membership", "Admins", "alice"),
                part("role_policy_attachment", ADMIN, "ops"),
                part("role_inline_policy", "all", "ops"),
                part("trust_policy", "ops", "ops"),
            ]
        },
        {},
    )
    assert [(a["action"], a["resource_id"]) for a in plan] == [
        ("delete_iam_access_key", backdoor),
        ("remove_user_from_group", "Admins"),
        ("delete_user_policy", "all"),
        ("delete_login_profile", "alice"),
        ("detach_user_policy", ADMIN),
        ("delete_role_policy", "all"),
        ("detach_role_policy", ADMIN),
        ("review_trust_policy", "ops"),
    ]
    assert "delete_iam_user" not in {a["action"] for a in plan}  # alice existed before
    lines: list[str] = []
    assert carry_out(plan, boto3_clients(endpoint), lambda _p: True, lines.append) == 0
    assert _statuses(lines)[-1] == ("review_trust_policy", "manual")
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [own_key]  # alice's own key stays
    with pytest.raises(ClientError):
        iam.get_login_profile(UserName="alice")
    assert iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"] == []
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == []
    assert iam.list_groups_for_user(UserName="alice")["Groups"] == []
    assert iam.list_attached_role_policies(RoleName="ops")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="ops")["PolicyNames"] == []
