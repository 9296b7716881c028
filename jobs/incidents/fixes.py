"""Fix tracking: mark plan actions done from the calls later CloudTrail shows (pure).

A call completes an action only when it names the same resource (``targets``: type, id and,
for a policy or group membership, the user or role it belongs to) in the same account and, for
EC2, the same region; a revoke counts only for the rule the incident added. Calls by the
incident's own identities (``compromised``) never count: an attacker's clean-up is not a fix.
A later call that brings the resource back (a key pair re-imported, the rule re-added, the
policy re-attached) withdraws "done" until the next removal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from jobs.incidents.model import Draft
from jobs.incidents.specs import role_name, stored_arguments

Target = tuple[str, str, str | None]  # (target_type, target_id, detail) of ``remediation_calls``

# action -> event names that remove its resource / that bring it back
COMPLETES: dict[str, frozenset[str]] = {
    "deactivate_access_key": frozenset({"UpdateAccessKey", "DeleteAccessKey"}),
    "delete_access_key": frozenset({"DeleteAccessKey"}),
    "delete_iam_access_key": frozenset({"DeleteAccessKey"}),
    "revoke_role_sessions": frozenset({"PutRolePolicy"}),
    "terminate_instance": frozenset({"TerminateInstances"}),
    "revoke_ingress": frozenset({"RevokeSecurityGroupIngress", "DeleteSecurityGroup"}),
    "delete_security_group": frozenset({"DeleteSecurityGroup"}),
    "delete_key_pair": frozenset({"DeleteKeyPair"}),
    "delete_login_profile": frozenset({"DeleteLoginProfile", "DeleteUser"}),
    "delete_iam_user": frozenset({"DeleteUser"}),
    "detach_user_policy": frozenset({"DetachUserPolicy", "DeleteUser"}),
    "delete_user_policy": frozenset({"DeleteUserPolicy", "DeleteUser"}),
    "remove_user_from_group": frozenset({"RemoveUserFromGroup", "DeleteUser"}),
    "detach_role_policy": frozenset({"DetachRolePolicy", "DeleteRole"}),
    "delete_role_policy": frozenset({"DeleteRolePolicy", "DeleteRole"}),
    "review_trust_policy": frozenset({"UpdateAssumeRolePolicy", "DeleteRole"}),
    "delete_iam_policy": frozenset({"DeletePolicy"}),
}
RESTORES: dict[str, frozenset[str]] = {
    "deactivate_access_key": frozenset({"UpdateAccessKey"}),
    "revoke_role_sessions": frozenset({"DeleteRolePolicy"}),
    "revoke_ingress": frozenset({"AuthorizeSecurityGroupIngress"}),
    "delete_key_pair": frozenset({"ImportKeyPair", "CreateKeyPair"}),
    "delete_login_profile": frozenset({"CreateLoginProfile", "UpdateLoginProfile"}),
    "delete_iam_user": frozenset({"CreateUser"}),
    "detach_user_policy": frozenset({"AttachUserPolicy"}),
    "delete_user_policy": frozenset({"PutUserPolicy"}),
    "remove_user_from_group": frozenset({"AddUserToGroup"}),
    "detach_role_policy": frozenset({"AttachRolePolicy"}),
    "delete_role_policy": frozenset({"PutRolePolicy"}),
    # the incident's identities changing the trust policy again put the backdoor back
    "review_trust_policy": frozenset({"UpdateAssumeRolePolicy"}),
    "delete_iam_policy": frozenset({"CreatePolicy"}),
}


def rule_detail(rule: Mapping[str, Any]) -> str:
    """An ingress rule as ``protocol|from|to|cidr`` (``extract._rule``)."""
    protocol = str(rule.get("protocol") or "").lower()
    ports = [
        "" if protocol == "-1" or p is None else str(p)
        for p in (rule.get("from_port"), rule.get("to_port"))
    ]
    return "|".join([protocol, *ports, str(rule.get("cidr") or "")])


def targets(action: Mapping[str, Any]) -> set[Target]:
    """The call targets that concern ``action``: its resource and, for a part of a user or
    role, the user or role itself (deleting it removes the part). The user or role comes from
    the action's re-validated command; a console-only part has none and matches nothing."""
    kind, rid = str(action["action"]), action["resource_id"]
    try:
        args = stored_arguments(action)[2] if action.get("command") else {}
    except ValueError:
        args = {}
    user, role = args.get("user"), args.get("role")
    simple = {
        "deactivate_access_key": "access_key",
        "delete_access_key": "access_key",
        "delete_iam_access_key": "access_key",
        "terminate_instance": "instance",
        "revoke_ingress": "security_group",
        "delete_security_group": "security_group",
        "delete_key_pair": "key_pair",
        "delete_iam_user": "iam_user",
        "delete_iam_policy": "iam_policy",
    }
    if kind in simple:
        return {(simple[kind], rid, None)}
    if kind == "revoke_role_sessions":
        name = role_name(rid)
        return {("role", name, None)} if name else set()
    if kind == "delete_login_profile":
        return {("login_profile", rid, None), ("iam_user", rid, None)}
    if kind == "review_trust_policy":
        return {("trust_policy", rid, None), ("iam_role", rid, None)}
    parts = {
        "detach_user_policy": ("user_policy", user, "iam_user"),
        "delete_user_policy": ("user_inline_policy", user, "iam_user"),
        "remove_user_from_group": ("group_membership", user, "iam_user"),
        "detach_role_policy": ("role_policy", role, "iam_role"),
        "delete_role_policy": ("role_inline_policy", role, "iam_role"),
    }
    if kind in parts and parts[kind][1]:
        part, owner, owner_type = parts[kind]
        return {(part, rid, owner), (owner_type, owner, None)}
    return set()


def _state(
    calls: Iterable[Mapping[str, Any]], kind: str, compromised: frozenset[str]
) -> tuple[Mapping[str, Any] | None, bool]:
    """The call that left the resource removed (the first removal after the last restore), or
    None; and whether a removal was undone by a later restore (withdrawn). Removals by the
    incident's identities are ignored; a restore counts whoever made it."""
    done, withdrawn = None, False
    for c in sorted(calls, key=lambda c: (c["event_time"], c["event_id"])):
        by_incident = bool({c.get("access_key_id"), c.get("principal_arn")} & compromised)
        restores = c["event_name"] in RESTORES.get(kind, ()) and (
            c["effect"] == "restore" or (by_incident and kind == "review_trust_policy")
        )
        if restores:
            done, withdrawn = None, withdrawn or done is not None
        elif c["effect"] == "remove" and c["event_name"] in COMPLETES[kind] and not by_incident:
            done = done or c
    return done, withdrawn and done is None


def mark_done(
    plan: Sequence[Mapping[str, Any]],
    calls: Sequence[Mapping[str, Any]],
    *,
    since: datetime,
    aliases: Mapping[str, str] | None = None,
    rules: Sequence[Mapping[str, Any]] = (),
    compromised: Iterable[str] = (),
    withdrawn: set[tuple[str, str]] | None = None,
) -> tuple[list[dict[str, Any]], datetime | None]:
    """Return the plan with ``done``/``done_at``/``done_by_event_id`` set, and ``fixed_at``.

    ``calls``: ``extract.remediation_calls`` rows. A call concerns an action when its target is
    one of the action's ``targets`` (``aliases`` maps another id of a resource, a key pair id,
    to the id the plan names), it is in the action's account and region (when the action names
    a region) and at or after ``since`` (the attack's start). ``rules``: the incident's ingress
    rules (``scope.ingress_rules``); a revoke action is done when each of its group's rules is.
    ``compromised``: the incident's access keys and principals. ``withdrawn`` (when given)
    receives the ``(action, resource_id)`` of actions done once and undone since. ``fixed_at``
    is when the last action was done, once all are (else None).
    """
    aliases, bad = aliases or {}, frozenset(compromised)
    out: list[dict[str, Any]] = []
    for action in plan:
        marked = dict(action, done=False, done_at=None, done_by_event_id=None)
        kind = str(action["action"])
        if kind in COMPLETES:
            mine = [
                c
                for c in calls
                if c.get("account_id") == action.get("account_id")
                and (not action.get("region") or c.get("region") == action["region"])
                and c["event_time"] >= since
            ]
            done, undone = _done(action, mine, aliases, rules, bad)
            if undone and withdrawn is not None:
                withdrawn.add((kind, action["resource_id"]))
            if done is not None:
                marked.update(
                    done=True, done_at=done["event_time"], done_by_event_id=done["event_id"]
                )
        out.append(marked)
    fixed_at = max(a["done_at"] for a in out) if out and all(a["done"] for a in out) else None
    return out, fixed_at


def _done(
    action: Mapping[str, Any],
    calls: Sequence[Mapping[str, Any]],
    aliases: Mapping[str, str],
    rules: Sequence[Mapping[str, Any]],
    compromised: frozenset[str],
) -> tuple[Mapping[str, Any] | None, bool]:
    """The call that completes ``action`` (see ``mark_done``), or None; and whether it was
    done once and undone since."""
    kind, wanted = str(action["action"]), targets(action)

    def target(c: Mapping[str, Any]) -> Target:
        return (c["target_type"], aliases.get(c["target_id"], c["target_id"]), c.get("detail"))

    if kind != "revoke_ingress":
        return _state([c for c in calls if target(c) in wanted], kind, compromised)
    group_target = ("security_group", action["resource_id"])
    group = [
        r
        for r in rules
        if r.get("group_id") == action["resource_id"]
        and r.get("account_id") == action.get("account_id")
        and r.get("region") == action.get("region")
    ]
    per_rule = [
        _state(
            [
                c
                for c in calls
                if target(c)[:2] == group_target
                and target(c)[2] in {None, rule_detail(r), r.get("rule_id")}
            ],
            kind,
            compromised,
        )
        for r in group
    ]
    undone = any(w for _, w in per_rule)
    if not per_rule or any(d is None for d, _ in per_rule):
        return None, undone
    return max((d for d, _ in per_rule), key=lambda c: (c["event_time"], c["event_id"])), False


def compromised_identities(row: Mapping[str, Any]) -> frozenset[str]:
    """The incident's access keys (used, minted and created) and principals: their calls never
    count as fixes. Root ARNs are left out: every root session shares them, the responder's
    too (the grouping rule); the root access key itself is in the set."""
    scope = row.get("scope") or {}
    keys = set(scope.get("access_keys") or []) | {
        r.get("session_access_key_id") for r in scope.get("assumed_roles") or []
    }
    keys |= {r["resource_id"] for r in scope.get("iam") or [] if r.get("kind") == "access_key"}
    principals = {p for p in scope.get("principals") or [] if p and not str(p).endswith(":root")}
    extra = {row.get("access_key_id"), row.get("principal_arn")}
    extra = {x for x in extra if x and not str(x).endswith(":root")}
    return frozenset(x for x in keys | principals | extra if x)


def fix_targets(drafts: Sequence[Draft]) -> list[str]:
    """Every id a remediation call may name for these drafts: plan targets and their aliases."""
    return sorted(
        {t for d in drafts for a in d.row["remediation"] for _, t, _ in targets(a) if t}
        | {alias for d in drafts for alias in d.aliases}
    )


def apply_fixes(drafts: Sequence[Draft], calls: Sequence[Mapping[str, Any]]) -> None:
    """Mark each draft's plan from ``calls`` (``mark_done``) since the draft's start; set
    ``remediation``, ``fixed_at``, ``actions_total`` and ``actions_done`` on its row, and the
    actions whose resource came back in ``withdrawn`` (``rows`` then drops their old "done")."""
    for d in drafts:
        row = d.row
        row["remediation"], row["fixed_at"] = mark_done(
            row["remediation"],
            calls,
            since=row["started_at"],
            aliases=d.aliases,
            rules=(row.get("scope") or {}).get("ingress_rules") or [],
            compromised=compromised_identities(row),
            withdrawn=d.withdrawn,
        )
        row["actions_total"] = len(row["remediation"])
        row["actions_done"] = sum(1 for a in row["remediation"] if a["done"])
