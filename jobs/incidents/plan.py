"""The remediation plan: ordered, resource-level actions naming exact ids, with AWS CLI commands.

Each action comes from its spec in ``specs`` (validation, command, console fallback); this
module picks the resources, their arguments and descriptions, and the order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.incidents import specs
from jobs.incidents.actions import arn_account, new_action, valid, valid_cidr

ROOT_CONSOLE_STEPS = (
    "Sign in to https://console.aws.amazon.com/ as the root user of account {account} "
    "(email, password, MFA).",
    "Open the account menu > Security credentials.",
    "Under Access keys, find {key}: Actions > Deactivate.",
    "Then Actions > Delete, and confirm.",
)
ROOT_NOTE = (
    "Only the root user can manage its own access keys. With AWS Organizations centralized root "
    "access, the management account can instead run 'aws sts assume-root' with the "
    "IAMDeleteRootUserCredentials task policy and delete the key."
)
# ``scope.iam`` kind -> how the part of a user (``user_name``) or role is removed
IAM_USER_PARTS = {
    "access_key": specs.DELETE_IAM_ACCESS_KEY,
    "login_profile": specs.DELETE_LOGIN_PROFILE,
    "user_policy_attachment": specs.DETACH_USER_POLICY,
    "inline_policy": specs.DELETE_USER_POLICY,
    "group_membership": specs.REMOVE_USER_FROM_GROUP,
}
IAM_ROLE_PARTS = {
    "role_policy_attachment": specs.DETACH_ROLE_POLICY,
    "role_inline_policy": specs.DELETE_ROLE_POLICY,
}
TRUST_STEPS = (
    "IAM > Roles > {role} > Trust relationships: compare the trust policy with the one your "
    "team set; the incident's identities changed it at {at}.",
    "Restore the expected trust policy (Edit trust policy), or delete the role if nobody needs "
    "it. The next run marks this done once CloudTrail shows UpdateAssumeRolePolicy or DeleteRole "
    "by another identity.",
)


def _root_key_actions(key: str, account: str | None) -> list[dict[str, Any]]:
    """Console steps only: no principal but the root user can remove a root key."""
    steps = [s.format(account=account or "?", key=key) for s in ROOT_CONSOLE_STEPS]
    return [
        new_action(
            "deactivate_access_key",
            "access_key",
            key,
            f"Deactivate root access key {key} (root console). {ROOT_NOTE}",
            account_id=account,
            region=None,
            console=steps[:3],
        ),
        new_action(
            "delete_access_key",
            "access_key",
            key,
            f"Delete root access key {key} (root console).",
            account_id=account,
            region=None,
            console=steps[:2] + steps[3:],
        ),
    ]


def key_actions(key: str, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Deactivate, then delete, an access key. ``owner``: ``is_root``, ``user_name``,
    ``account_id``. Root keys get console steps (no other principal can remove them)."""
    account = owner.get("account_id")
    if owner.get("is_root"):
        return _root_key_actions(key, account)
    user = owner.get("user_name")
    values = {"id": key, "user": user}
    of_user = f" of IAM user {user}." if user else "."
    return [
        specs.DEACTIVATE_ACCESS_KEY.build(
            values, f"Deactivate access key {key}{of_user}", account_id=account, region=None
        ),
        specs.DELETE_ACCESS_KEY.build(
            values, f"Delete access key {key}.", account_id=account, region=None
        ),
    ]


def revoke_sessions_action(role_arn: str, revoke_before: str) -> dict[str, Any]:
    """Deny the role's sessions issued before ``revoke_before`` (ISO time), as the console's
    'Revoke active sessions' does. The action is in the role's own account (from its ARN): a
    role of the same name in another account is another role."""
    name = specs.role_name(role_arn)
    values = {
        "id": role_arn,
        "role_name": name,
        "policy": specs.revoke_policy(revoke_before),
    }
    what = f"Revoke sessions of role {name} issued before {revoke_before} (assumed with the key)."
    account = arn_account(role_arn) if name else None
    return specs.REVOKE_ROLE_SESSIONS.build(values, what, account_id=account, region=None)


def instance_action(instance: Mapping[str, Any]) -> dict[str, Any]:
    """Terminate one instance."""
    iid, region = instance["instance_id"], instance.get("region")
    what = f"Terminate instance {iid} ({instance.get('instance_type') or 'unknown type'})."
    return specs.TERMINATE_INSTANCE.build(
        {"id": iid, "region": region}, what, account_id=instance.get("account_id"), region=region
    )


def ip_permission(rule: Mapping[str, Any]) -> dict[str, Any] | None:
    """The EC2 ``IpPermissions`` entry of one ingress rule, or None when a field fails
    validation."""
    protocol, cidr = rule.get("protocol"), rule.get("cidr")
    if not valid("protocol", protocol) or not valid_cidr(cidr):
        return None
    perm: dict[str, Any] = {"IpProtocol": protocol}
    if protocol != "-1":
        if rule.get("from_port") is None or rule.get("to_port") is None:
            return None
        perm["FromPort"], perm["ToPort"] = int(rule["from_port"]), int(rule["to_port"])
    ranges = "Ipv6Ranges" if ":" in cidr else "IpRanges"
    perm[ranges] = [{("CidrIpv6" if ":" in cidr else "CidrIp"): cidr}]
    return perm


def revoke_action(group_id: str, rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Revoke the ingress rules the identities added to one group (by rule id when known)."""
    region, account = rules[0].get("region"), rules[0].get("account_id")
    shown = ", ".join(
        f"{r.get('protocol')} {r.get('from_port')}-{r.get('to_port')} from {r.get('cidr')}"
        for r in rules
    )
    perms = [ip_permission(r) for r in rules]
    values = {
        "id": group_id,
        "region": region,
        "rule_ids": sorted({r.get("rule_id") for r in rules}, key=str),
        "permissions": None
        if any(p is None for p in perms)
        else json.dumps(perms, separators=(",", ":")),
    }
    group_ok = valid("security_group", group_id) and valid("region", region)
    return specs.REVOKE_INGRESS.build(
        values,
        f"Revoke the ingress rules added to {group_id}: {shown}.",
        account_id=account,
        region=region,
        noun="rule of" if group_ok else None,  # the group is fine: a rule is not
    )


def delete_group_action(group: Mapping[str, Any]) -> dict[str, Any]:
    """Delete a group the identities created (after its instances are gone)."""
    gid, region = group["group_id"], group.get("region")
    name = group.get("group_name") or "unnamed"
    what = f"Delete security group {gid} ({name}) once its instances are terminated."
    return specs.DELETE_SECURITY_GROUP.build(
        {"id": gid, "region": region}, what, account_id=group.get("account_id"), region=region
    )


def key_pair_action(pair: Mapping[str, Any]) -> dict[str, Any]:
    """Delete an imported or created key pair: by its id when known (a name is reused once the
    pair is gone), else by its name, unique in the region."""
    name, pid, region = pair["key_name"], pair.get("key_pair_id"), pair.get("region")
    what = f"Delete key pair {name}" + (f" ({pid})." if pid else ".")
    return specs.DELETE_KEY_PAIR.build(
        {"id": name, "key_pair_id": pid, "region": region},
        what,
        account_id=pair.get("account_id"),
        region=region,
    )


def _part_description(kind: str, rid: str, owner: str | None, created: bool) -> str:
    whose = f"created user {owner}" if created else f"existing user {owner}"
    return {
        "access_key": f"Delete access key {rid} of {whose}.",
        "login_profile": f"Delete the console password the incident set for {whose}"
        + ("." if created else " (its owner then needs a new one from an administrator)."),
        "user_policy_attachment": f"Detach {rid} from {whose}.",
        "inline_policy": f"Delete inline policy {rid} of {whose}.",
        "group_membership": f"Remove {whose} from group {rid}.",
        "role_policy_attachment": f"Detach {rid} from role {owner}.",
        "role_inline_policy": f"Delete inline policy {rid} of role {owner}.",
    }[kind]


def trust_policy_action(change: Mapping[str, Any]) -> dict[str, Any]:
    """Flag a role whose trust policy the identities changed: CloudTrail holds only the new
    document, so the responder restores the expected one (console steps, no command)."""
    role, at = change["resource_id"], change.get("created_at")
    steps = [s.format(role=repr(role), at=at) for s in TRUST_STEPS]
    return new_action(
        "review_trust_policy",
        "iam_role",
        role,
        f"Review the trust policy of role {role}: the incident's identities changed who may "
        "assume it.",
        account_id=change.get("account_id"),
        region=None,
        console=steps,
    )


def _parts(
    parts: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], created: bool
) -> list[dict[str, Any]]:
    """The removal of each row's part (``parts``: kind -> spec) of its user or role."""
    out = []
    for r in sorted(rows, key=lambda r: (r["kind"], r["resource_id"])):
        owner, where = r.get("user_name"), {"account_id": r.get("account_id"), "region": None}
        what = _part_description(r["kind"], r["resource_id"], owner, created)
        values = {"id": r["resource_id"], "user": owner, "role": owner}
        out.append(parts[r["kind"]].build(values, what, **where))
    return out


def iam_actions(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Remove what the identities did in IAM. Users they created: the user's keys, login
    profile, policies and groups, then the user. Existing users and roles (persistence): the
    keys, login profiles, policies and group memberships they added; trust policy changes are
    flagged for review. Then the managed policies they created. Parts are matched to their
    user or role by account and name."""
    out: list[dict[str, Any]] = []
    created = sorted(
        {(r.get("account_id") or "", r["resource_id"]) for r in resources if r["kind"] == "user"}
    )
    for account, user in created:
        where: dict[str, Any] = {"account_id": account or None, "region": None}
        if valid("iam_name", user):  # parts of a user whose name fails validation are skipped
            rows = [
                r
                for r in resources
                if r["kind"] in IAM_USER_PARTS
                and r.get("user_name") == user
                and (r.get("account_id") or "") == account
            ]
            out += _parts(IAM_USER_PARTS, rows, created=True)
        out.append(specs.DELETE_IAM_USER.build({"id": user}, f"Delete IAM user {user}.", **where))
    existing = [
        r
        for r in resources
        if r["kind"] in IAM_USER_PARTS
        and ((r.get("account_id") or ""), r.get("user_name")) not in created
    ]
    out += _parts(IAM_USER_PARTS, existing, created=False)
    out += _parts(IAM_ROLE_PARTS, [r for r in resources if r["kind"] in IAM_ROLE_PARTS], False)
    for r in sorted(resources, key=lambda r: r["resource_id"]):
        if r["kind"] == "trust_policy":
            out.append(trust_policy_action(r))
    for r in resources:
        if r["kind"] == "policy":
            arn = r["resource_id"]
            what = f"Delete managed policy {arn} (detach it from every entity first)."
            out.append(
                specs.DELETE_IAM_POLICY.build(
                    {"id": arn}, what, account_id=r.get("account_id"), region=None
                )
            )
    return out


def build_plan(
    scope: Mapping[str, Any], keys: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ordered plan for an incident.

    ``scope``: the incident's scope (``instances``, ``ingress_rules``, ``security_groups``,
    ``key_pairs``, ``iam``, ``assumed_roles``, ``revoke_before`` as ISO text). ``keys``:
    long-term access key -> owner (``is_root``, ``user_name``, ``account_id``). Order: keys,
    role sessions, instances, ingress rules, created groups, key pairs, IAM.
    """
    plan: list[dict[str, Any]] = []
    for key in sorted(keys):
        plan += key_actions(key, keys[key])
    started = scope.get("revoke_before")
    for role in sorted(
        {r["role_arn"] for r in scope.get("assumed_roles", []) if r.get("role_arn")}
    ):
        plan.append(revoke_sessions_action(role, started or ""))
    for instance in sorted(scope.get("instances", []), key=lambda i: i["instance_id"]):
        plan.append(instance_action(instance))
    by_group: dict[str, list[Mapping[str, Any]]] = {}
    for rule in scope.get("ingress_rules", []):
        by_group.setdefault(rule["group_id"], []).append(rule)
    for gid in sorted(by_group):
        plan.append(revoke_action(gid, by_group[gid]))
    for group in sorted(scope.get("security_groups", []), key=lambda g: g["group_id"]):
        if group.get("created"):
            plan.append(delete_group_action(group))
    for pair in sorted(scope.get("key_pairs", []), key=lambda p: p["key_name"]):
        plan.append(key_pair_action(pair))
    plan += iam_actions(scope.get("iam", []))
    for step, action in enumerate(plan, 1):
        action["step"] = step
    return plan


def plan_json(incident_id: str, plan: Sequence[Mapping[str, Any]]) -> str:
    """The plan as JSON text (times as ISO 8601)."""
    return json.dumps({"incident_id": incident_id, "actions": list(plan)}, indent=2, default=str)
