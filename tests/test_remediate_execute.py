"""Carrying out a plan with boto3 against a local moto server (never real AWS), in the
credentials' own account: commands map back to allowlisted calls, the plan runs after a dry run
and only once confirmed, actions already done, gone or console-only are not executed, a
dash-prefixed name neither injects nor stops the other actions, and an attacker's persistence on
existing users and roles is planned and removed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from jobs.commands.remediate import boto3_clients, carry_out
from jobs.incidents.execute import dry_run, route, to_call
from jobs.incidents.plan import build_plan
from tests.support.remediate_moto import (
    HOME,
    REGION,
    key_pairs_in,
    moto_accounts,
    moto_client,
    recording,
    stage_attack,
    statuses_of,
)


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from moto_accounts(monkeypatch)


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
    scope, owners = stage_attack(endpoint)
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
        recording(boto3_clients(endpoint), calls),
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
    ec2, iam = moto_client(endpoint, "ec2"), moto_client(endpoint, "iam")
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
    scope, owners = stage_attack(endpoint)
    lines: list[str] = []
    assert (
        carry_out(
            build_plan(scope, owners), boto3_clients(endpoint), lambda _p: False, lines.append
        )
        == 1
    )
    assert lines[-1] == "not confirmed: nothing was changed."
    ec2 = moto_client(endpoint, "ec2")
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


def test_a_dash_prefixed_name_neither_injects_nor_stops_the_other_actions(
    endpoint: str,
) -> None:
    ec2 = moto_client(endpoint, "ec2")
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
    assert sorted(key_pairs_in(endpoint, HOME)) == ["--region=eu-west-1", "prod-deploy"]


ADMIN = f"arn:aws:iam::{HOME}:policy/Everything"


def test_persistence_on_existing_users_and_roles_is_planned_and_removed(endpoint: str) -> None:
    iam = moto_client(endpoint, "iam")
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
    assert statuses_of(lines)[-1] == ("review_trust_policy", "manual")
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [own_key]  # alice's own key stays
    with pytest.raises(ClientError):
        iam.get_login_profile(UserName="alice")
    assert iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"] == []
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == []
    assert iam.list_groups_for_user(UserName="alice")["Groups"] == []
    assert iam.list_attached_role_policies(RoleName="ops")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="ops")["PolicyNames"] == []
