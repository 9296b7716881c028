"""Carrying out a plan in two accounts on a local moto server (never real AWS): the
credentials' own (moto's default) and another reached only through an assumed role. Without a
configured role the other account's actions are refused, with one they run there and never on
this account's same-named role, and a role that lands in the wrong account is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jobs.commands.remediate import boto3_clients, carry_out, role_assumer
from jobs.incidents.execute import route
from jobs.incidents.plan import build_plan
from tests.support.remediate_moto import (
    HOME,
    TEMPLATE,
    key_pairs_in,
    moto_accounts,
    moto_client,
    recording,
    stage_attack,
    statuses_of,
)

OTHER = "210987654321"


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    yield from moto_accounts(monkeypatch)


def _two_account_plan(endpoint: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """An attack in the other account, the stolen key in this one, and an ``Admin`` role of the
    same name in both: the key assumed the OTHER account's Admin."""
    scope, _ = stage_attack(endpoint, OTHER)
    for account in (HOME, OTHER):
        moto_client(endpoint, "iam", account).create_role(
            RoleName="Admin", AssumeRolePolicyDocument="{}"
        )
    iam = moto_client(endpoint, "iam")
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]["AccessKeyId"]
    scope["assumed_roles"] = [
        {"role_arn": f"arn:aws:iam::{OTHER}:role/Admin", "account_id": HOME}  # the call's account
    ]
    scope["revoke_before"] = "2026-11-20T15:00:00Z"
    plan = build_plan(scope, {key: {"is_root": False, "user_name": "dev", "account_id": HOME}})
    return plan, scope


def _inline_policies(endpoint: str, account: str) -> list[str]:
    return moto_client(endpoint, "iam", account).list_role_policies(RoleName="Admin")["PolicyNames"]


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
    assert statuses_of(lines) == [
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
    assert key_pairs_in(endpoint, OTHER) == ["svc-maint"]
    assert _inline_policies(endpoint, HOME) == [] and _inline_policies(endpoint, OTHER) == []
    assert moto_client(endpoint, "iam").list_access_keys(UserName="dev")["AccessKeyMetadata"] == []


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
        assume=lambda account: recording(assume(account), calls),
    )
    assert code == 0, "\n".join(lines)
    assert _inline_policies(endpoint, OTHER) == ["AWSRevokeOlderSessions"]
    assert _inline_policies(endpoint, HOME) == []  # never this account's own Admin
    ids = [i["instance_id"] for i in scope["instances"]]
    ec2 = moto_client(endpoint, "ec2", OTHER)
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
