"""How a remediation action is described as data: validators of its arguments, the AWS CLI
command forms it can print and the console fallback (the table of kinds is ``specs``).

Log fields are attacker-controlled. A command is built only when every argument it needs has
the documented shape of its kind (``VALIDATORS``), and every argument is ``shlex.quote``d; when
no command form applies, the action carries console steps instead, quoting the value as text.
Names may not begin with ``-`` (a command-line option), so no value can be read as an option.
A stored command is read back only through the form that printed it (``CliForm.parse``).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
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
    "key_name": re.compile(r"(?!-)[A-Za-z0-9._+=@,:-]{1,255}"),
    "iam_name": re.compile(r"(?!-)[A-Za-z0-9_+=,.@-]{1,64}"),
    "group_name": re.compile(r"(?!-)[A-Za-z0-9_+=,.@-]{1,128}"),
    "policy_name": re.compile(r"(?!-)[A-Za-z0-9_+=,.@-]{1,128}"),
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


def _placeholder(word: str) -> str | None:
    return word[1:-1] if word.startswith("{") and word.endswith("}") else None


def arn_account(value: Any) -> str | None:
    """The account of an IAM ARN (``aws`` for AWS-managed policies), else None."""
    if not isinstance(value, str) or not value.startswith("arn:"):
        return None
    parts = value.split(":", 5)
    return parts[4] if len(parts) == 6 else None


@dataclass(frozen=True)
class CliForm:
    """One way to write the command: the arguments it requires, each with its requirement kind
    (see ``meets``), and the argv template (``{name}`` is an argument; a ``lists`` argument
    expands to one word per item, and only the last word of a template may be one)."""

    requires: tuple[tuple[str, str], ...]
    argv: tuple[str, ...]
    lists: tuple[str, ...] = ()

    def applies(self, values: Mapping[str, Any]) -> bool:
        """Every required argument meets its requirement."""
        return all(meets(kind, values.get(name)) for name, kind in self.requires)

    def render(self, values: Mapping[str, Any]) -> list[str]:
        """The argv with the arguments filled in."""
        out: list[str] = []
        for word in self.argv:
            name = _placeholder(word)
            value = values[name] if name else word
            out += value if isinstance(value, list) else [value]
        return out

    def parse(self, argv: Sequence[str]) -> dict[str, Any] | None:
        """The arguments of a command line this form printed (None when the literal words or
        the word count differ). Validation is the caller's: ``applies`` and ``render``."""
        values: dict[str, Any] = {}
        for i, word in enumerate(self.argv):
            name = _placeholder(word)
            if name in self.lists and i == len(self.argv) - 1:
                values[name] = list(argv[i:])
                return values if values[name] else None
            if i >= len(argv) or (name is None and argv[i] != word):
                return None
            if name is not None:
                values[name] = argv[i]
        return values if len(argv) == len(self.argv) else None

    def options(self, values: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """``(--option, value)`` pairs of the command after ``aws <service> <operation>``,
        taken from the template (never from the command text)."""
        words = self.argv[3:]
        pairs = []
        for option, word in zip(words[::2], words[1::2], strict=True):
            name = _placeholder(word)
            pairs.append((option, values[name] if name else word))
        return pairs


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
    # a check across arguments (a role name is its ARN's last part), beyond each one's shape
    consistent: Callable[[Mapping[str, Any]], bool] | None = None

    def form_for(self, values: Mapping[str, Any]) -> CliForm | None:
        """The first form whose requirements ``values`` meet (and ``consistent`` accepts)."""
        if self.consistent is not None and not self.consistent(values):
            return None
        return next((f for f in self.forms if f.applies(values)), None)

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
        form = self.form_for(values)
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
