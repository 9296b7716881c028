"""Fix tracking: mark plan actions done from the remediation calls later CloudTrail shows (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jobs.incidents.model import Draft

# action -> (target_type of ``extract.remediation_calls``, event names that complete it)
COMPLETES: dict[str, tuple[str, frozenset[str]]] = {
    "deactivate_access_key": ("access_key", frozenset({"UpdateAccessKey", "DeleteAccessKey"})),
    "delete_access_key": ("access_key", frozenset({"DeleteAccessKey"})),
    "delete_iam_access_key": ("access_key", frozenset({"DeleteAccessKey"})),
    "revoke_role_sessions": ("role", frozenset({"PutRolePolicy"})),
    "terminate_instance": ("instance", frozenset({"TerminateInstances"})),
    "revoke_ingress": (
        "security_group",
        frozenset({"RevokeSecurityGroupIngress", "DeleteSecurityGroup"}),
    ),
    "delete_security_group": ("security_group", frozenset({"DeleteSecurityGroup"})),
    "delete_key_pair": ("key_pair", frozenset({"DeleteKeyPair"})),
    "delete_login_profile": ("iam_user", frozenset({"DeleteLoginProfile", "DeleteUser"})),
    "delete_iam_user": ("iam_user", frozenset({"DeleteUser"})),
    "detach_user_policy": ("iam_policy", frozenset({"DetachUserPolicy"})),
    "delete_user_policy": ("iam_policy", frozenset({"DeleteUserPolicy"})),
    "delete_iam_policy": ("iam_policy", frozenset({"DeletePolicy"})),
}


def mark_done(
    plan: Sequence[Mapping[str, Any]],
    calls: Sequence[Mapping[str, Any]],
    *,
    since: datetime,
    aliases: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], datetime | None]:
    """Return the plan with ``done``/``done_at``/``done_by_event_id`` set, and ``fixed_at``.

    ``calls``: ``extract.remediation_calls`` rows (successful calls only). A call completes an
    action when its event and target match (``COMPLETES``), it is in the action's account when
    both name one, and it happened at or after ``since`` (the attack's start). ``aliases`` maps
    another id of a resource (a key pair id) to the id the plan names. An action already done
    stays done. ``fixed_at`` is when the last action was done, once all are (else None).
    """
    aliases = aliases or {}
    out: list[dict[str, Any]] = []
    for action in plan:
        marked = dict(action)
        rule = COMPLETES.get(str(action["action"]))
        if rule and not marked.get("done"):
            target_type, names = rule
            hits = sorted(
                (
                    c
                    for c in calls
                    if c["event_name"] in names
                    and c["target_type"] == target_type
                    and aliases.get(c["target_id"], c["target_id"]) == action["resource_id"]
                    and (
                        not action.get("account_id")
                        or not c.get("account_id")
                        or c["account_id"] == action["account_id"]
                    )
                    and c["event_time"] >= since
                ),
                key=lambda c: (c["event_time"], c["event_id"]),
            )
            if hits:
                marked.update(
                    done=True, done_at=hits[0]["event_time"], done_by_event_id=hits[0]["event_id"]
                )
        out.append(marked)
    fixed_at = max(a["done_at"] for a in out) if out and all(a.get("done") for a in out) else None
    return out, fixed_at


def fix_targets(drafts: Sequence[Draft]) -> list[str]:
    """Every id a remediation call may name for these drafts: plan resources and their aliases."""
    return sorted(
        {a["resource_id"] for d in drafts for a in d.row["remediation"]}
        | {alias for d in drafts for alias in d.aliases}
    )


def apply_fixes(drafts: Sequence[Draft], calls: Sequence[Mapping[str, Any]]) -> None:
    """Mark each draft's plan from ``calls`` (``mark_done``) since the draft's start; set
    ``remediation``, ``fixed_at``, ``actions_total`` and ``actions_done`` on its row."""
    for d in drafts:
        row = d.row
        row["remediation"], row["fixed_at"] = mark_done(
            row["remediation"], calls, since=row["started_at"], aliases=d.aliases
        )
        row["actions_total"] = len(row["remediation"])
        row["actions_done"] = sum(1 for a in row["remediation"] if a["done"])
