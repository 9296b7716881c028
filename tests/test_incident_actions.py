"""The action-spec table (``jobs.incidents.specs``): for every kind of remediation action, the
exact command for valid ids, the console-only fallback for a hostile one, and the re-validation
of stored actions before they run. Pure, no Spark."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from jobs.incidents import actions, specs
from jobs.incidents.actions import ActionSpec, meets
from jobs.incidents.execute import to_call
from jobs.incidents.fixes import COMPLETES
from jobs.incidents.specs import revoke_policy, stored_arguments

ACCOUNT = "123456789012"
KEY = "AKIAAAAABBBBCCCCDDDD"
ROLE = "arn:aws:iam::123456789012:role/ops/Admin"
HOSTILE = "x; rm -rf / $(id)"
POLICY = revoke_policy("2026-11-20T15:00:00Z")


def fallback(noun: str, value: Any) -> list[str]:
    return [
        f"The {noun} {value!r} does not have the expected shape: no command is generated; "
        "act on it in the console after checking it by hand."
    ]


# spec, valid arguments, the command, hostile arguments, (action, resource id, console steps)
CASES: list[tuple[ActionSpec, dict[str, Any], str, dict[str, Any], tuple[str, str, list[str]]]] = [
    (
        specs.DEACTIVATE_ACCESS_KEY,
        {"id": KEY, "user": "ci-bot"},
        f"aws iam update-access-key --user-name ci-bot --access-key-id {KEY} --status Inactive",
        {"id": KEY, "user": HOSTILE},
        ("deactivate_access_key", KEY, fallback("access key or user", f"{HOSTILE}/{KEY}")),
    ),
    (
        specs.DELETE_ACCESS_KEY,
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
        specs.REVOKE_ROLE_SESSIONS,
        {"id": ROLE, "role_name": "Admin", "policy": POLICY},
        "aws iam put-role-policy --role-name Admin --policy-name AWSRevokeOlderSessions "
        f"--policy-document '{POLICY}'",
        {"id": ROLE, "role_name": "Admin", "policy": revoke_policy(HOSTILE)},
        ("revoke_role_sessions", ROLE, fallback("role", ROLE)),
    ),
    (
        specs.TERMINATE_INSTANCE,
        {"id": "i-0123456789abcdef0", "region": "us-east-1"},
        "aws ec2 terminate-instances --region us-east-1 --instance-ids i-0123456789abcdef0",
        {"id": "i-0123456789abcdef0", "region": "us-east-1" + HOSTILE},
        ("terminate_instance", "i-0123456789abcdef0", fallback("instance", "i-0123456789abcdef0")),
    ),
    (
        specs.REVOKE_INGRESS,
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
        specs.DELETE_SECURITY_GROUP,
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
        specs.DELETE_KEY_PAIR,
        {"id": "svc-maint", "key_pair_id": "key-0123456789abcdef0", "region": "us-east-1"},
        "aws ec2 delete-key-pair --region us-east-1 --key-pair-id key-0123456789abcdef0",
        {"id": "--region=eu-west-1", "key_pair_id": None, "region": "us-east-1"},
        ("delete_key_pair", "--region=eu-west-1", fallback("key pair", "--region=eu-west-1")),
    ),
    (
        specs.DELETE_IAM_USER,
        {"id": "ci-bot"},
        "aws iam delete-user --user-name ci-bot",
        {"id": "--user-name"},
        ("delete_iam_user", "--user-name", fallback("user", "--user-name")),
    ),
    (
        specs.DELETE_IAM_ACCESS_KEY,
        {"id": KEY, "user": "ci-bot"},
        f"aws iam delete-access-key --user-name ci-bot --access-key-id {KEY}",
        {"id": HOSTILE, "user": "ci-bot"},
        ("review_iam", HOSTILE, fallback("access_key", HOSTILE)),
    ),
    (
        specs.DELETE_LOGIN_PROFILE,
        {"id": "ci-bot", "user": "ci-bot"},
        "aws iam delete-login-profile --user-name ci-bot",
        {"id": HOSTILE, "user": HOSTILE},
        ("review_iam", HOSTILE, fallback("login_profile", HOSTILE)),
    ),
    (
        specs.DETACH_USER_POLICY,
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
        specs.DELETE_USER_POLICY,
        {"id": "inline-1", "user": "ci-bot"},
        "aws iam delete-user-policy --user-name ci-bot --policy-name inline-1",
        {"id": HOSTILE, "user": "ci-bot"},
        ("review_iam", HOSTILE, fallback("inline_policy", HOSTILE)),
    ),
    (
        specs.DELETE_IAM_POLICY,
        {"id": f"arn:aws:iam::{ACCOUNT}:policy/path/P"},
        f"aws iam delete-policy --policy-arn arn:aws:iam::{ACCOUNT}:policy/path/P",
        {"id": "arn:aws:iam::1:policy/P"},
        (
            "delete_iam_policy",
            "arn:aws:iam::1:policy/P",
            fallback("policy", "arn:aws:iam::1:policy/P"),
        ),
    ),
    (
        specs.REMOVE_USER_FROM_GROUP,
        {"id": "Admins", "user": "alice"},
        "aws iam remove-user-from-group --user-name alice --group-name Admins",
        {"id": "-Admins", "user": "alice"},
        ("review_iam", "-Admins", fallback("group_membership", "-Admins")),
    ),
    (
        specs.DETACH_ROLE_POLICY,
        {"id": "arn:aws:iam::aws:policy/AdministratorAccess", "role": "ops"},
        "aws iam detach-role-policy --role-name ops --policy-arn "
        "arn:aws:iam::aws:policy/AdministratorAccess",
        {"id": "arn:aws:iam::aws:policy/AdministratorAccess", "role": HOSTILE},
        (
            "review_iam",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            fallback("role_policy_attachment", "arn:aws:iam::aws:policy/AdministratorAccess"),
        ),
    ),
    (
        specs.DELETE_ROLE_POLICY,
        {"id": "inline-1", "role": "ops"},
        "aws iam delete-role-policy --role-name ops --policy-name inline-1",
        {"id": "--policy-name", "role": "ops"},
        ("review_iam", "--policy-name", fallback("role_inline_policy", "--policy-name")),
    ),
]
ALL_SPECS = [v for v in vars(specs).values() if isinstance(v, ActionSpec)]


def test_every_spec_has_a_case_and_a_fix_rule() -> None:
    assert sorted(c[0].action for c in CASES) == sorted(s.action for s in ALL_SPECS)
    assert sorted(specs.SPECS) == sorted(s.action for s in ALL_SPECS)
    # every command's effect is tracked; a trust-policy review (console only) too
    assert set(COMPLETES) == {s.action for s in ALL_SPECS} | {"review_trust_policy"}


@pytest.mark.parametrize("case", CASES, ids=[c[0].action for c in CASES])
def test_spec_command_and_console_fallback(case: tuple[Any, ...]) -> None:
    spec, good, command, bad, (action, resource_id, steps) = case
    region = good.get("region")
    built = spec.build(good, "what", account_id=ACCOUNT, region=region)
    assert built["command"] == command and built["console_steps"] == []
    assert (built["action"], built["account_id"], built["region"]) == (
        spec.action,
        ACCOUNT,
        region,
    )
    assert shlex.split(built["command"])[:2] in (["aws", "iam"], ["aws", "ec2"])
    # the stored action re-validates to the same arguments and maps to an allowlisted call
    assert stored_arguments(built | {"step": 1})[1].render(stored_arguments(built)[2]) == (
        shlex.split(command)
    )
    assert to_call(built).method
    console = spec.build(bad, "what", account_id=ACCOUNT, region="r")
    assert console["command"] is None
    assert (console["action"], console["resource_id"], console["console_steps"]) == (
        action,
        resource_id,
        steps,
    )
    assert (console["done"], console["done_at"], console["done_by_event_id"]) == (False, None, None)


def test_fallback_descriptions_drop_the_rejected_value() -> None:
    key = specs.DEACTIVATE_ACCESS_KEY.build(
        {"id": HOSTILE, "user": None},
        f"Deactivate access key {HOSTILE}.",
        account_id=None,
        region=None,
    )
    assert key["description"] == "Deactivate the access key."
    review = specs.DELETE_USER_POLICY.build(
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
    built = specs.REVOKE_INGRESS.build(
        values, "w", account_id=None, region="us-east-1", noun="rule of"
    )
    assert built["console_steps"] == fallback("rule of", "sg-0123456789abcdef0")


def _stored(spec: ActionSpec, values: dict[str, Any], region: str | None = None) -> dict:
    return spec.build(values, "what", account_id=ACCOUNT, region=region) | {"step": 3}


@pytest.mark.parametrize(
    "change",
    [
        # the command names another region than the action (fix tracking reads the action's)
        {"region": "eu-west-1"},
        # an option smuggled into the stored text
        {
            "command": "aws ec2 terminate-instances --region us-east-1 --instance-ids "
            "i-0123456789abcdef0 --no-dry-run"
        },
        # another instance than the action's resource
        {"resource_id": "i-0fedcba9876543210"},
        # an old plan's name beginning with '-': read as an option by the CLI
        {"command": "aws ec2 terminate-instances --region us-east-1 --instance-ids --x"},
        {"command": "aws ec2 terminate-instances --region 'us-east-1"},  # unbalanced quote
        {"action": "delete_everything"},
    ],
)
def test_a_stored_action_that_does_not_revalidate_is_refused(change: dict[str, Any]) -> None:
    action = _stored(
        specs.TERMINATE_INSTANCE, {"id": "i-0123456789abcdef0", "region": "us-east-1"}, "us-east-1"
    )
    assert to_call(action).params == {"InstanceIds": ["i-0123456789abcdef0"]}
    with pytest.raises(ValueError, match=r"^step 3: "):
        to_call(action | change)


def test_a_key_pair_named_like_an_option_is_deleted_by_id_or_not_at_all() -> None:
    by_id = _stored(
        specs.DELETE_KEY_PAIR,
        {"id": "--key-name", "key_pair_id": "key-0123456789abcdef0", "region": "us-east-1"},
        "us-east-1",
    )
    assert to_call(by_id).params == {"KeyPairId": "key-0123456789abcdef0"}
    old = by_id | {"command": "aws ec2 delete-key-pair --region us-east-1 --key-name --key-name"}
    with pytest.raises(ValueError):
        to_call(old)


def test_revoking_sessions_keeps_the_roles_account() -> None:
    other = "arn:aws:iam::210987654321:role/Admin"
    action = specs.REVOKE_ROLE_SESSIONS.build(
        {"id": other, "role_name": "Admin", "policy": POLICY}, "w", account_id=ACCOUNT, region=None
    )
    # the command itself names only the role: an action claiming this account is refused
    with pytest.raises(ValueError):
        stored_arguments(action)
    assert stored_arguments(action | {"account_id": "210987654321"})[2]["role_name"] == "Admin"
    forged = action | {
        "account_id": "210987654321",
        "command": action["command"].replace("2026-11-20T15:00:00Z", "2026-11-20T15:00:00Z;"),
    }
    with pytest.raises(ValueError):
        stored_arguments(forged)


def test_permissions_documents_are_checked_when_read_back() -> None:
    good = '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'
    values = {"id": "sg-0123456789abcdef0", "region": "us-east-1", "rule_ids": [None]}
    action = _stored(specs.REVOKE_INGRESS, values | {"permissions": good}, "us-east-1")
    assert to_call(action).params["IpPermissions"][0]["FromPort"] == 22
    bad = good.replace('"IpProtocol"', '"UserIdGroupPairs":[],"IpProtocol"')
    with pytest.raises(ValueError):
        to_call(action | {"command": action["command"].replace(good, bad)})
