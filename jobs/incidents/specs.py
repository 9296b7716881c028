"""The table of remediation action kinds (``SPECS``): which resource each removes, its
argument validators, the AWS CLI forms it prints and its console fallback (the machinery is in
``actions``), and ``stored_arguments``, which re-validates a stored action against its kind
before anything runs it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from jobs.incidents.actions import (
    ABSENT,
    BUILT,
    VALIDATORS,
    ActionSpec,
    CliForm,
    arn_account,
    valid,
    valid_cidr,
)


def revoke_policy(before: str) -> str:
    """The inline policy denying a role's sessions issued before ``before`` (ISO time), as the
    console's 'Revoke active sessions' writes it."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": before}},
            }
        ],
    }
    return json.dumps(policy, separators=(",", ":"))


def role_name(role_arn: Any) -> str | None:
    """The role name (the last part of the path) of a valid role ARN, else None."""
    match = VALIDATORS["role_arn"].fullmatch(role_arn) if isinstance(role_arn, str) else None
    return match.group(2).rsplit("/", 1)[-1] if match else None


def _revokes_sessions(values: Mapping[str, Any]) -> bool:
    """The role name is the ARN's and the policy is exactly the revoke policy of a valid time."""
    if role_name(values.get("id")) != values.get("role_name"):
        return False
    try:
        statement = json.loads(values["policy"])["Statement"][0]
        before = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    except (KeyError, IndexError, TypeError, ValueError):
        return False
    return valid("utc_second", before) and values["policy"] == revoke_policy(before)


_PERMISSION_KEYS = {"IpProtocol", "FromPort", "ToPort", "IpRanges", "Ipv6Ranges"}


def _permission_ok(perm: Any) -> bool:
    if not isinstance(perm, dict) or not set(perm) <= _PERMISSION_KEYS:
        return False
    ports = [perm.get("FromPort"), perm.get("ToPort")]
    ranges = perm.get("IpRanges", []) + perm.get("Ipv6Ranges", [])
    return (
        valid("protocol", perm.get("IpProtocol"))
        and all(p is None or type(p) is int for p in ports)
        and bool(ranges)
        and all(
            isinstance(r, dict) and len(r) == 1 and valid_cidr(next(iter(r.values())))
            for r in ranges
        )
    )


def _permissions_ok(values: Mapping[str, Any]) -> bool:
    """No permissions document, or one of IP permissions of checked shape only."""
    text = values.get("permissions")
    if text is None:
        return True
    try:
        perms = json.loads(text)
    except (TypeError, ValueError):
        return False
    return (
        isinstance(perms, list)
        and bool(perms)
        and all(_permission_ok(p) for p in perms)
        and json.dumps(perms, separators=(",", ":")) == text
    )


def _ec2(*words: str) -> tuple[str, ...]:
    return ("aws", "ec2", *words)


def _iam(*words: str) -> tuple[str, ...]:
    return ("aws", "iam", *words)


_IN_REGION = (("id", "instance"), ("region", "region"))
_KEY_WITH_USER = (("id", "access_key"), ("user", "iam_name"))
_KEY_WITHOUT_USER = (("id", "access_key"), ("user", ABSENT))
_GROUP = (("id", "security_group"), ("region", "region"))

DEACTIVATE_ACCESS_KEY = ActionSpec(
    "deactivate_access_key",
    "access_key",
    "access key or user",
    (
        CliForm(
            _KEY_WITH_USER,
            _iam(
                "update-access-key",
                "--user-name",
                "{user}",
                "--access-key-id",
                "{id}",
                "--status",
                "Inactive",
            ),
        ),
        CliForm(
            _KEY_WITHOUT_USER,
            _iam("update-access-key", "--access-key-id", "{id}", "--status", "Inactive"),
        ),
    ),
    shown=("user", "id"),
    fallback_description="Deactivate the access key.",
)
DELETE_ACCESS_KEY = ActionSpec(
    "delete_access_key",
    "access_key",
    "access key or user",
    (
        CliForm(
            _KEY_WITH_USER,
            _iam("delete-access-key", "--user-name", "{user}", "--access-key-id", "{id}"),
        ),
        CliForm(_KEY_WITHOUT_USER, _iam("delete-access-key", "--access-key-id", "{id}")),
    ),
    shown=("user", "id"),
    fallback_description="Delete the access key.",
)
REVOKE_ROLE_SESSIONS = ActionSpec(
    "revoke_role_sessions",
    "role",
    "role",
    (
        CliForm(
            (("id", "role_arn"), ("role_name", "iam_name"), ("policy", BUILT)),
            _iam(
                "put-role-policy",
                "--role-name",
                "{role_name}",
                "--policy-name",
                "AWSRevokeOlderSessions",
                "--policy-document",
                "{policy}",
            ),
        ),
    ),
    fallback_description="Revoke the role's sessions.",
    consistent=_revokes_sessions,
)
TERMINATE_INSTANCE = ActionSpec(
    "terminate_instance",
    "instance",
    "instance",
    (
        CliForm(
            _IN_REGION,
            _ec2("terminate-instances", "--region", "{region}", "--instance-ids", "{id}"),
        ),
    ),
)
REVOKE_INGRESS = ActionSpec(
    "revoke_ingress",
    "security_group",
    "security group",
    (
        CliForm(
            (*_GROUP, ("rule_ids", "sg_rule")),
            _ec2(
                "revoke-security-group-ingress",
                "--region",
                "{region}",
                "--group-id",
                "{id}",
                "--security-group-rule-ids",
                "{rule_ids}",
            ),
            lists=("rule_ids",),
        ),
        CliForm(
            (*_GROUP, ("permissions", BUILT)),
            _ec2(
                "revoke-security-group-ingress",
                "--region",
                "{region}",
                "--group-id",
                "{id}",
                "--ip-permissions",
                "{permissions}",
            ),
        ),
    ),
    consistent=_permissions_ok,
)
DELETE_SECURITY_GROUP = ActionSpec(
    "delete_security_group",
    "security_group",
    "security group",
    (CliForm(_GROUP, _ec2("delete-security-group", "--region", "{region}", "--group-id", "{id}")),),
)
DELETE_KEY_PAIR = ActionSpec(
    "delete_key_pair",
    "key_pair",
    "key pair",
    (
        CliForm(
            (("region", "region"), ("key_pair_id", "key_pair_id")),
            _ec2("delete-key-pair", "--region", "{region}", "--key-pair-id", "{key_pair_id}"),
        ),
        CliForm(
            (("region", "region"), ("id", "key_name")),
            _ec2("delete-key-pair", "--region", "{region}", "--key-name", "{id}"),
        ),
    ),
)
DELETE_IAM_USER = ActionSpec(
    "delete_iam_user",
    "iam_user",
    "user",
    (CliForm((("id", "iam_name"),), _iam("delete-user", "--user-name", "{id}")),),
    fallback_description="Delete the IAM user.",
)
DELETE_IAM_ACCESS_KEY = ActionSpec(
    "delete_iam_access_key",
    "access_key",
    "access_key",
    (
        CliForm(
            (("id", "access_key"), ("user", "iam_name")),
            _iam("delete-access-key", "--user-name", "{user}", "--access-key-id", "{id}"),
        ),
    ),
    fallback_description="Remove access_key of {user}.",
    fallback_action="review_iam",
    fallback_type="access_key",
)
DELETE_LOGIN_PROFILE = ActionSpec(
    "delete_login_profile",
    "iam_user",
    "login_profile",
    (CliForm((("user", "iam_name"),), _iam("delete-login-profile", "--user-name", "{user}")),),
    resource="user",
    fallback_description="Remove login_profile of {user}.",
    fallback_action="review_iam",
    fallback_type="login_profile",
)
DETACH_USER_POLICY = ActionSpec(
    "detach_user_policy",
    "iam_policy",
    "user_policy_attachment",
    (
        CliForm(
            (("id", "policy_arn"), ("user", "iam_name")),
            _iam("detach-user-policy", "--user-name", "{user}", "--policy-arn", "{id}"),
        ),
    ),
    fallback_description="Remove user_policy_attachment of {user}.",
    fallback_action="review_iam",
    fallback_type="user_policy_attachment",
)
DELETE_USER_POLICY = ActionSpec(
    "delete_user_policy",
    "iam_policy",
    "inline_policy",
    (
        CliForm(
            (("id", "policy_name"), ("user", "iam_name")),
            _iam("delete-user-policy", "--user-name", "{user}", "--policy-name", "{id}"),
        ),
    ),
    fallback_description="Remove inline_policy of {user}.",
    fallback_action="review_iam",
    fallback_type="inline_policy",
)
DELETE_IAM_POLICY = ActionSpec(
    "delete_iam_policy",
    "iam_policy",
    "policy",
    (CliForm((("id", "policy_arn"),), _iam("delete-policy", "--policy-arn", "{id}")),),
)
REMOVE_USER_FROM_GROUP = ActionSpec(
    "remove_user_from_group",
    "iam_group",
    "group_membership",
    (
        CliForm(
            (("id", "group_name"), ("user", "iam_name")),
            _iam("remove-user-from-group", "--user-name", "{user}", "--group-name", "{id}"),
        ),
    ),
    fallback_description="Remove {user} from the group.",
    fallback_action="review_iam",
    fallback_type="group_membership",
)
DETACH_ROLE_POLICY = ActionSpec(
    "detach_role_policy",
    "iam_policy",
    "role_policy_attachment",
    (
        CliForm(
            (("id", "policy_arn"), ("role", "iam_name")),
            _iam("detach-role-policy", "--role-name", "{role}", "--policy-arn", "{id}"),
        ),
    ),
    fallback_description="Remove role_policy_attachment of {role}.",
    fallback_action="review_iam",
    fallback_type="role_policy_attachment",
)
DELETE_ROLE_POLICY = ActionSpec(
    "delete_role_policy",
    "iam_policy",
    "role_inline_policy",
    (
        CliForm(
            (("id", "policy_name"), ("role", "iam_name")),
            _iam("delete-role-policy", "--role-name", "{role}", "--policy-name", "{id}"),
        ),
    ),
    fallback_description="Remove role_inline_policy of {role}.",
    fallback_action="review_iam",
    fallback_type="role_inline_policy",
)

SPECS: dict[str, ActionSpec] = {
    s.action: s for s in list(globals().values()) if isinstance(s, ActionSpec)
}


def stored_arguments(action: Mapping[str, Any]) -> tuple[ActionSpec, CliForm, dict[str, Any]]:
    """Re-validate a stored action against its kind: the command must be exactly what one of
    the kind's forms prints for arguments that pass validation, naming the action's resource,
    region and account. Returns the spec, the form and the arguments; ValueError (one
    sentence) otherwise."""
    step, kind, command = action.get("step"), action.get("action"), action.get("command")
    spec = SPECS.get(str(kind))
    if spec is None or not isinstance(command, str):
        raise ValueError(f"step {step}: {kind!r} is not a kind of action that runs a command.")
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = []
    for form in spec.forms:
        parsed = form.parse(argv)
        if parsed is None:
            continue
        values = {"id": action.get("resource_id"), **parsed}
        if (
            values[spec.resource] == action.get("resource_id")
            and values.get("region", action.get("region")) == action.get("region")
            and arn_account(values["id"]) in (None, "aws", action.get("account_id"))
            and spec.form_for(values) is form
            and form.render(values) == argv
        ):
            return spec, form, values
    raise ValueError(
        f"step {step}: the stored command does not match its {kind} action's validated "
        "arguments; it was not run."
    )
