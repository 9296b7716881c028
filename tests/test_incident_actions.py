"""The action-spec table (``jobs.incidents.actions``): for every kind of remediation action, the
exact command for valid ids and the console-only fallback for a hostile one. Pure, no Spark."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from jobs.incidents import actions
from jobs.incidents.actions import ActionSpec, meets
from jobs.incidents.fixes import COMPLETES

ACCOUNT = "123456789012"
KEY = "AKIAAAAABBBBCCCCDDDD"
ROLE = "arn:aws:iam::123456789012:role/ops/Admin"
HOSTILE = "x; rm -rf / $(id)"


def fallback(noun: str, value: Any) -> list[str]:
    return [
        f"The {noun} {value!r} does not have the expected shape: no command is generated; "
        "act on it in the console after checking it by hand."
    ]


# spec, valid arguments, the command, hostile arguments, (action, resource id, console steps)
CASES: list[tuple[ActionSpec, dict[str, Any], str, dict[str, Any], tuple[str, str, list[str]]]] = [
    (
        actions.DEACTIVATE_ACCESS_KEY,
        {"id": KEY, "user": "ci-bot"},
        f"aws iam update-access-key --user-name ci-bot --access-key-id {KEY} --status Inactive",
        {"id": KEY, "user": HOSTILE},
        ("deactivate_access_key", KEY, fallback("access key or user", f"{HOSTILE}/{KEY}")),
    ),
    (
        actions.DELETE_ACCESS_KEY,
        {"id": KEY, "user": None},
        f"aws iam delete-access-key --access-key-id {KEY}",
        {"id": "AKIA" + HOSTILE, "user": None},
        (
            "delete_access_key",
            "AKIA" + HOSTILE,
            fallback("access key or user", f"None/AKIA{HOSTILE}"),
        ),
    ),
    (
        actions.REVOKE_ROLE_SESSIONS,
        {"id": ROLE, "role_name": "Admin", "revoke_before": "2026-11-20T15:00:00Z", "policy": "{}"},
        "aws iam put-role-policy --role-name Admin --policy-name AWSRevokeOlderSessions "
        "--policy-document '{}'",
        {"id": ROLE, "role_name": "Admin", "revoke_before": HOSTILE, "policy": "{}"},
        ("revoke_role_sessions", ROLE, fallback("role", ROLE)),
    ),
    (
        actions.TERMINATE_INSTANCE,
        {"id": "i-0123456789abcdef0", "region": "us-east-1"},
        "aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0",
        {"id": "i-0123456789abcdef0", "region": "us-east-1" + HOSTILE},
        ("terminate_instance", "i-0123456789abcdef0", fallback("instance", "i-0123456789abcdef0")),
    ),
    (
        actions.REVOKE_INGRESS,
        {
            "id": "sg-0123456789abcdef0",
            "region": "eu-west-3",
            "rule_ids": ["sgr-0123456789abcdef0", "sgr-0123456789abcdef1"],
            "permissions": None,
        },
        "aws ec2 revoke-security-group-ingress --region eu-west-3 --group-id "
        "sg-0123456789abcdef0 --security-group-rule-ids sgr-0123456789abcdef0 "
        "sgr-0123456789abcdef1",
        {"id": HOSTILE, "region": "eu-west-3", "rule_ids": ["sgr-0123456789abcdef0"]},
        ("revoke_ingress", HOSTILE, fallback("security group", HOSTILE)),
    ),
    (
        actions.DELETE_SECURITY_GROUP,
        {"id": "sg-0123456789abcdef0", "region": "us-gov-west-1"},
        "aws ec2 delete-security-group --region us-gov-west-1 --group-id sg-0123456789abcdef0",
        {"id": "sg-0123456789abcdef0", "region": None},
        (
            "delete_security_group",
            "sg-0123456789abcdef0",
            fallback("security group", "sg-0123456789abcdef0"),
        ),
    ),
    (
        actions.DELETE_KEY_PAIR,
        {"id": HOSTILE, "key_pair_id": "key-0123456789abcdef0", "region": "us-east-1"},
        "aws ec2 delete-key-pair --region us-east-1 --key-pair-id key-0123456789abcdef0",
        {"id": HOSTILE, "key_pair_id": None, "region": "us-east-1"},
        ("delete_key_pair", HOSTILE, fallback("key pair", HOSTILE)),
    ),
    (
        actions.DELETE_IAM_USER,
        {"id": "ci-bot"},
        "aws iam delete-user --user-name ci-bot",
        {"id": HOSTILE},
        ("delete_iam_user", HOSTILE, fallback("user", HOSTILE)),
    ),
    (
        actions.DELETE_IAM_ACCESS_KEY,
        {"id": KEY, "user": "ci-bot"},
        f"aws iam delete-access-key --user-name ci-bot --access-key-id {KEY}",
        {"id": HOSTILE, "user": "ci-bot"},
        ("review_iam", HOSTILE, fallback("access_key", HOSTILE)),
    ),
    (
        actions.DELETE_LOGIN_PROFILE,
        {"id": "ci-bot", "user": "ci-bot"},
        "aws iam delete-login-profile --user-name ci-bot",
        {"id": HOSTILE, "user": HOSTILE},
        ("review_iam", HOSTILE, fallback("login_profile", HOSTILE)),
    ),
    (
        actions.DETACH_USER_POLICY,
        {"id": "arn:aws:iam::aws:policy/AdministratorAccess", "user": "ci-bot"},
        "aws iam detach-user-policy --user-name ci-bot --policy-arn "
        "arn:aws:iam::aws:policy/AdministratorAccess",
        {"id": "arn:aws:iam::aws:policy/" + HOSTILE, "user": "ci-bot"},
        (
            "review_iam",
            "arn:aws:iam::aws:policy/" + HOSTILE,
            fallback("user_policy_attachment", "arn:aws:iam::aws:policy/" + HOSTILE),
        ),
    ),
    (
        actions.DELETE_USER_POLICY,
        {"id": "inline-1", "user": "ci-bot"},
        "aws iam delete-user-policy --user-name ci-bot --policy-name inline-1",
        {"id": HOSTILE, "user": "ci-bot"},
        ("review_iam", HOSTILE, fallback("inline_policy", HOSTILE)),
    ),
    (
        actions.DELETE_IAM_POLICY,
        {"id": f"arn:aws:iam::{ACCOUNT}:policy/path/P"},
        f"aws iam delete-policy --policy-arn arn:aws:iam::{ACCOUNT}:policy/path/P",
        {"id": "arn:aws:iam::1:policy/P"},
        (
            "delete_iam_policy",
            "arn:aws:iam::1:policy/P",
            fallback("policy", "arn:aws:iam::1:policy/P"),
        ),
    ),
]
ALL_SPECS = [v for v in vars(actions).values() if isinstance(v, ActionSpec)]


def test_every_spec_has_a_case_and_a_fix_rule() -> None:
    assert sorted(c[0].action for c in CASES) == sorted(s.action for s in ALL_SPECS)
    assert {s.action for s in ALL_SPECS} == set(COMPLETES)  # every command's effect is tracked


@pytest.mark.parametrize("case", CASES, ids=[c[0].action for c in CASES])
def test_spec_command_and_console_fallback(case: tuple[Any, ...]) -> None:
    spec, good, command, bad, (action, resource_id, steps) = case
    built = spec.build(good, "what", account_id=ACCOUNT, region="r")
    assert built["command"] == command and built["console_steps"] == []
    assert (built["action"], built["account_id"], built["region"]) == (spec.action, ACCOUNT, "r")
    assert shlex.split(built["command"])[:2] in (["aws", "iam"], ["aws", "ec2"])
    console = spec.build(bad, "what", account_id=ACCOUNT, region="r")
    assert console["command"] is None
    assert (console["action"], console["resource_id"], console["console_steps"]) == (
        action,
        resource_id,
        steps,
    )
    assert (console["done"], console["done_at"], console["done_by_event_id"]) == (False, None, None)


def test_fallback_descriptions_drop_the_rejected_value() -> None:
    key = actions.DEACTIVATE_ACCESS_KEY.build(
        {"id": HOSTILE, "user": None},
        f"Deactivate access key {HOSTILE}.",
        account_id=None,
        region=None,
    )
    assert key["description"] == "Deactivate the access key."
    review = actions.DELETE_USER_POLICY.build(
        {"id": HOSTILE, "user": "ci-bot"}, "unused", account_id=None, region=None
    )
    assert (review["resource_type"], review["description"]) == (
        "inline_policy",
        "Remove inline_policy of ci-bot.",
    )


def test_requirements() -> None:
    assert meets("sg_rule", ["sgr-0123456789abcdef0"]) and not meets("sg_rule", [])
    assert not meets("sg_rule", ["sgr-0123456789abcdef0", None])
    assert meets(actions.ABSENT, None) and not meets(actions.ABSENT, "")
    assert meets(actions.BUILT, "[]") and not meets(actions.BUILT, None)
    assert not meets("region", "us-east-1\n") and meets("utc_second", "2026-11-20T15:00:00Z")


def test_noun_override_names_the_rule_not_the_group() -> None:
    values = {"id": "sg-0123456789abcdef0", "region": "us-east-1", "rule_ids": [None]}
    built = actions.REVOKE_INGRESS.build(
        values, "w", account_id=None, region="us-east-1", noun="rule of"
    )
    assert built["console_steps"] == fallback("rule of", "sg-0123456789abcdef0")
