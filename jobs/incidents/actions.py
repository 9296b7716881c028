"""The kinds of remediation action, as data: which resource each removes, how its ids are
validated, the AWS CLI command it prints and the console fallback.

Log fields are attacker-controlled. A command is built only when every argument it needs has
the documented shape of its kind (``VALIDATORS``), and every argument is ``shlex.quote``d; when
no command form applies, the action carries console steps instead, quoting the value as text.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VALIDATORS: dict[str, re.Pattern[str]] = {
    "access_key": re.compile(r"(AKIA|ASIA)[A-Z0-9]{16}"),
    "account": re.compile(r"[0-9]{12}"),
    "region": re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}"),
    "instance": re.compile(r"i-[0-9a-f]{8,17}"),
    "security_group": re.compile(r"sg-[0-9a-f]{8,17}"),
    "sg_rule": re.compile(r"sgr-[0-9a-f]{8,17}"),
    "key_pair_id": re.compile(r"key-[0-9a-f]{8,17}"),
    "key_name": re.compile(r"[A-Za-z0-9._+=@,:-]{1,255}"),
    "iam_name": re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}"),
    "policy_name": re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}"),
    "policy_arn": re.compile(
        r"arn:aws(-[a-z]+)*:iam::([0-9]{12}|aws):policy/[A-Za-z0-9_+=,.@/-]{1,512}"
    ),
    "role_arn": re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([A-Za-z0-9_+=,.@/-]{1,512})"),
    "protocol": re.compile(r"-1|tcp|udp|icmp|icmpv6|[0-9]{1,3}"),
    "utc_second": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
}
# requirement kinds beyond ``VALIDATORS``: the value must be None / must not be None (a value
# the caller built only from checked parts, such as an IP permissions document)
ABSENT, BUILT = "absent", "built"


def valid(kind: str, value: Any) -> bool:
    """True when ``value`` is a string of the documented shape for ``kind``."""
    return isinstance(value, str) and VALIDATORS[kind].fullmatch(value) is not None


def valid_cidr(value: Any) -> bool:
    """True for an IPv4 or IPv6 network in CIDR notation."""
    if not isinstance(value, str) or "/" not in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def meets(kind: str, value: Any) -> bool:
    """``value`` satisfies the requirement ``kind``: a ``VALIDATORS`` key (a list must be
    non-empty with every item valid), ``ABSENT`` or ``BUILT``."""
    if kind == ABSENT:
        return value is None
    if kind == BUILT:
        return value is not None
    if isinstance(value, list):
        return bool(value) and all(valid(kind, v) for v in value)
    return valid(kind, value)


def command(*args: str) -> str:
    """A shell-safe command line: every argument quoted."""
    return " ".join(shlex.quote(a) for a in args)


def rejected(noun: str, value: str) -> list[str]:
    """The console fallback for a value that failed validation."""
    return [
        f"The {noun} {value!r} does not have the expected shape: no command is generated; "
        "act on it in the console after checking it by hand."
    ]


def new_action(
    action: str,
    resource_type: str,
    resource_id: str,
    description: str,
    *,
    account_id: str | None,
    region: str | None,
    argv: Sequence[str] | None = None,
    console: Sequence[str] = (),
) -> dict[str, Any]:
    """One plan action (``schemas.incidents`` remediation element, without ``step``)."""
    return {
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "account_id": account_id,
        "region": region,
        "description": description,
        "command": command(*argv) if argv else None,
        "console_steps": list(console),
        "done": False,
        "done_at": None,
        "done_by_event_id": None,
    }


@dataclass(frozen=True)
class CliForm:
    """One way to write the command: the arguments it requires, each with its requirement kind
    (see ``meets``), and the argv template (``{name}`` is an argument; a list argument expands
    to one word per item)."""

    requires: tuple[tuple[str, str], ...]
    argv: tuple[str, ...]

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Every required argument meets its requirement."""
        return all(meets(kind, values.get(name)) for name, kind in self.requires)

    def render(self, values: Mapping[str, Any]) -> list[str]:
        """The argv with the arguments filled in."""
        out: list[str] = []
        for word in self.argv:
            name = word[1:-1] if word.startswith("{") and word.endswith("}") else None
            value = values[name] if name else word
            out += value if isinstance(value, list) else [value]
        return out


@dataclass(frozen=True)
class ActionSpec:
    """One kind of action. The first form that applies gives the command. When none does, the
    action is console-only: ``rejected(noun, <the shown arguments>)``, the ``fallback_*`` fields
    (when set) replace the action, resource type and description (a template over the
    arguments), and the resource id is the ``id`` argument. ``resource`` names the argument an
    action with a command names as its resource id."""

    action: str
    resource_type: str
    noun: str
    forms: tuple[CliForm, ...]
    shown: tuple[str, ...] = ("id",)
    resource: str = "id"
    fallback_description: str | None = None
    fallback_action: str | None = None
    fallback_type: str | None = None

    def build(
        self,
        values: Mapping[str, Any],
        description: str,
        *,
        account_id: str | None,
        region: str | None,
        noun: str | None = None,
    ) -> dict[str, Any]:
        """The action for ``values`` (``id`` and the forms' arguments); ``noun`` overrides the
        spec's in the console fallback."""
        form = next((f for f in self.forms if f.applies(values)), None)
        where = {"account_id": account_id, "region": region}
        if form is not None:
            return new_action(
                self.action,
                self.resource_type,
                values[self.resource],
                description,
                argv=form.render(values),
                **where,
            )
        names = self.shown
        shown = values[names[0]] if len(names) == 1 else "/".join(str(values[n]) for n in names)
        return new_action(
            self.fallback_action or self.action,
            self.fallback_type or self.resource_type,
            values["id"],
            self.fallback_description.format_map(values)
            if self.fallback_description
            else description,
            console=rejected(noun or self.noun, shown),
            **where,
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
            (("id", "role_arn"), ("revoke_before", "utc_second")),
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
    resource="role_name",
    fallback_description="Revoke the role's sessions.",
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
            (("region", "region"), ("id", "key_name")),
            _ec2("delete-key-pair", "--region", "{region}", "--key-name", "{id}"),
        ),
        CliForm(
            (("region", "region"), ("key_pair_id", "key_pair_id")),
            _ec2("delete-key-pair", "--region", "{region}", "--key-pair-id", "{key_pair_id}"),
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
