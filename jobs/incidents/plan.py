"""The remediation plan: ordered, resource-level actions naming exact ids, with AWS CLI commands.

Log fields are attacker-controlled. A command is built only from values that match the id's
documented shape (``VALIDATORS``) and every argument is ``shlex.quote``d; a value that fails the
check gets no command, only console steps, and is shown escaped wherever it is rendered.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Mapping, Sequence
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
}

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


def command(*args: str) -> str:
    """A shell-safe command line: every argument quoted."""
    return " ".join(shlex.quote(a) for a in args)


def _action(
    action: str,
    resource_type: str,
    resource_id: str,
    description: str,
    *,
    account_id: str | None,
    region: str | None,
    cli: list[str] | None = None,
    console: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "account_id": account_id,
        "region": region,
        "description": description,
        "command": command(*cli) if cli else None,
        "console_steps": list(console),
        "done": False,
        "done_at": None,
        "done_by_event_id": None,
    }


def _ok_region(region: str | None) -> bool:
    return region is not None and valid("region", region)


def _rejected(what: str, value: str) -> list[str]:
    return [
        f"The {what} {value!r} does not have the expected shape: no command is generated; "
        "act on it in the console after checking it by hand."
    ]


def _ec2_action(
    action: str, kind: str, rid: str, what: str, account: str | None, region: str | None,
    cli: list[Any],
) -> dict[str, Any]:
    """``cli`` for ``rid`` when the id and region have their expected shape (log fields are
    attacker-controlled), console steps otherwise."""
    if not valid(kind, rid) or not _ok_region(region):
        rejected = _rejected(kind.replace("_", " "), rid)
        return _action(action, kind, rid, what, account_id=account, region=region, console=rejected)
    return _action(action, kind, rid, what, account_id=account, region=region, cli=cli)


def key_actions(key: str, owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Deactivate, then delete, an access key. ``owner``: ``is_root``, ``user_name``,
    ``account_id``. Root keys get console steps (no other principal can remove them)."""
    account = owner.get("account_id")
    if owner.get("is_root"):
        steps = [s.format(account=account or "?", key=key) for s in ROOT_CONSOLE_STEPS]
        return [
            _action(
                "deactivate_access_key",
                "access_key",
                key,
                f"Deactivate root access key {key} (root console). {ROOT_NOTE}",
                account_id=account,
                region=None,
                console=steps[:3],
            ),
            _action(
                "delete_access_key",
                "access_key",
                key,
                f"Delete root access key {key} (root console).",
                account_id=account,
                region=None,
                console=steps[:2] + steps[3:],
            ),
        ]
    user = owner.get("user_name")
    if not valid("access_key", key) or (user is not None and not valid("iam_name", user)):
        steps = _rejected("access key or user", f"{user}/{key}")
        return [
            _action(
                "deactivate_access_key",
                "access_key",
                key,
                "Deactivate the access key.",
                account_id=account,
                region=None,
                console=steps,
            ),
            _action(
                "delete_access_key",
                "access_key",
                key,
                "Delete the access key.",
                account_id=account,
                region=None,
                console=steps,
            ),
        ]
    who = ["--user-name", user] if user else []
    return [
        _action(
            "deactivate_access_key",
            "access_key",
            key,
            f"Deactivate access key {key}" + (f" of IAM user {user}." if user else "."),
            account_id=account,
            region=None,
            cli=[
                "aws",
                "iam",
                "update-access-key",
                *who,
                "--access-key-id",
                key,
                "--status",
                "Inactive",
            ],
        ),
        _action(
            "delete_access_key",
            "access_key",
            key,
            f"Delete access key {key}.",
            account_id=account,
            region=None,
            cli=["aws", "iam", "delete-access-key", *who, "--access-key-id", key],
        ),
    ]


def revoke_sessions_action(
    role_arn: str, revoke_before: str, account: str | None
) -> dict[str, Any]:
    """Deny the role's sessions issued before ``revoke_before`` (ISO time), as the console's
    'Revoke active sessions' does."""
    match = VALIDATORS["role_arn"].fullmatch(role_arn) if isinstance(role_arn, str) else None
    if match is None or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", revoke_before):
        return _action(
            "revoke_role_sessions",
            "role",
            role_arn,
            "Revoke the role's sessions.",
            account_id=account,
            region=None,
            console=_rejected("role", role_arn),
        )
    name = match.group(2).rsplit("/", 1)[-1]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": revoke_before}},
            }
        ],
    }
    return _action(
        "revoke_role_sessions",
        "role",
        name,
        f"Revoke sessions of role {name} issued before {revoke_before} (assumed with the key).",
        account_id=account,
        region=None,
        cli=[
            "aws",
            "iam",
            "put-role-policy",
            "--role-name",
            name,
            "--policy-name",
            "AWSRevokeOlderSessions",
            "--policy-document",
            json.dumps(policy, separators=(",", ":")),
        ],
    )


def instance_action(instance: Mapping[str, Any]) -> dict[str, Any]:
    """Terminate one instance."""
    iid, region, account = (
        instance["instance_id"],
        instance.get("region"),
        instance.get("account_id"),
    )
    what = f"Terminate instance {iid} ({instance.get('instance_type') or 'unknown type'})."
    return _ec2_action(
        "terminate_instance", "instance", iid, what, account, region,
        ["aws", "ec2", "terminate-instances", "--region", region, "--instance-ids", iid],
    )


def _permission(rule: Mapping[str, Any]) -> dict[str, Any] | None:
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
    what = f"Revoke the ingress rules added to {group_id}: {shown}."
    if not valid("security_group", group_id) or not _ok_region(region):
        return _action(
            "revoke_ingress",
            "security_group",
            group_id,
            what,
            account_id=account,
            region=region,
            console=_rejected("security group", group_id),
        )
    ids = [r.get("rule_id") for r in rules]
    base = [
        "aws",
        "ec2",
        "revoke-security-group-ingress",
        "--region",
        region,
        "--group-id",
        group_id,
    ]
    if all(valid("sg_rule", i) for i in ids):
        cli = base + ["--security-group-rule-ids", *sorted(set(ids))]  # type: ignore[arg-type]
    else:
        perms = [_permission(r) for r in rules]
        if any(p is None for p in perms):
            return _action(
                "revoke_ingress",
                "security_group",
                group_id,
                what,
                account_id=account,
                region=region,
                console=_rejected("rule of", group_id),
            )
        cli = base + ["--ip-permissions", json.dumps(perms, separators=(",", ":"))]
    return _action(
        "revoke_ingress",
        "security_group",
        group_id,
        what,
        account_id=account,
        region=region,
        cli=cli,
    )


def delete_group_action(group: Mapping[str, Any]) -> dict[str, Any]:
    """Delete a group the identities created (after its instances are gone)."""
    gid, region, account = group["group_id"], group.get("region"), group.get("account_id")
    name = group.get("group_name") or "unnamed"
    what = f"Delete security group {gid} ({name}) once its instances are terminated."
    return _ec2_action(
        "delete_security_group", "security_group", gid, what, account, region,
        ["aws", "ec2", "delete-security-group", "--region", region, "--group-id", gid],
    )


def key_pair_action(pair: Mapping[str, Any]) -> dict[str, Any]:
    """Delete an imported or created key pair (by its name, unique in the region, when the name
    passes validation; else by its id)."""
    name, pid = pair["key_name"], pair.get("key_pair_id")
    region, account = pair.get("region"), pair.get("account_id")
    what = f"Delete key pair {name}" + (f" ({pid})." if pid else ".")
    if _ok_region(region) and valid("key_name", name):
        cli = ["aws", "ec2", "delete-key-pair", "--region", region, "--key-name", name]
    elif _ok_region(region) and valid("key_pair_id", pid):
        cli = ["aws", "ec2", "delete-key-pair", "--region", region, "--key-pair-id", pid]
    else:
        return _action(
            "delete_key_pair",
            "key_pair",
            name,
            what,
            account_id=account,
            region=region,
            console=_rejected("key pair", name),
        )
    return _action(
        "delete_key_pair", "key_pair", name, what, account_id=account, region=region, cli=cli
    )


def iam_actions(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Remove what the identities created in IAM: per user, its keys, login profile, attached
    and inline policies, then the user; then the managed policies they created."""
    out: list[dict[str, Any]] = []
    users = sorted({r["resource_id"] for r in resources if r["kind"] == "user"})
    for user in users:
        account = next((r.get("account_id") for r in resources if r["resource_id"] == user), None)
        mine = [r for r in resources if r.get("user_name") == user]
        if not valid("iam_name", user):
            out.append(
                _action(
                    "delete_iam_user",
                    "iam_user",
                    user,
                    "Delete the IAM user.",
                    account_id=account,
                    region=None,
                    console=_rejected("user", user),
                )
            )
            continue
        for r in mine:
            rid = r["resource_id"]
            if r["kind"] == "access_key" and valid("access_key", rid):
                out.append(
                    _action(
                        "delete_iam_access_key",
                        "access_key",
                        rid,
                        f"Delete access key {rid} of created user {user}.",
                        account_id=account,
                        region=None,
                        cli=[
                            "aws",
                            "iam",
                            "delete-access-key",
                            "--user-name",
                            user,
                            "--access-key-id",
                            rid,
                        ],
                    )
                )
            elif r["kind"] == "login_profile":
                out.append(
                    _action(
                        "delete_login_profile",
                        "iam_user",
                        user,
                        f"Delete the console password of {user}.",
                        account_id=account,
                        region=None,
                        cli=["aws", "iam", "delete-login-profile", "--user-name", user],
                    )
                )
            elif r["kind"] == "user_policy_attachment" and valid("policy_arn", rid):
                out.append(
                    _action(
                        "detach_user_policy",
                        "iam_policy",
                        rid,
                        f"Detach {rid} from {user}.",
                        account_id=account,
                        region=None,
                        cli=[
                            "aws",
                            "iam",
                            "detach-user-policy",
                            "--user-name",
                            user,
                            "--policy-arn",
                            rid,
                        ],
                    )
                )
            elif r["kind"] == "inline_policy" and valid("policy_name", rid):
                out.append(
                    _action(
                        "delete_user_policy",
                        "iam_policy",
                        rid,
                        f"Delete inline policy {rid} of {user}.",
                        account_id=account,
                        region=None,
                        cli=[
                            "aws",
                            "iam",
                            "delete-user-policy",
                            "--user-name",
                            user,
                            "--policy-name",
                            rid,
                        ],
                    )
                )
            elif r["kind"] in ("access_key", "user_policy_attachment", "inline_policy"):
                out.append(
                    _action(
                        "review_iam",
                        r["kind"],
                        rid,
                        f"Remove {r['kind']} of {user}.",
                        account_id=account,
                        region=None,
                        console=_rejected(r["kind"], rid),
                    )
                )
        out.append(
            _action(
                "delete_iam_user",
                "iam_user",
                user,
                f"Delete IAM user {user}.",
                account_id=account,
                region=None,
                cli=["aws", "iam", "delete-user", "--user-name", user],
            )
        )
    for r in resources:
        if r["kind"] != "policy":
            continue
        arn = r["resource_id"]
        what = f"Delete managed policy {arn} (detach it from every entity first)."
        if valid("policy_arn", arn):
            out.append(
                _action(
                    "delete_iam_policy",
                    "iam_policy",
                    arn,
                    what,
                    account_id=r.get("account_id"),
                    region=None,
                    cli=["aws", "iam", "delete-policy", "--policy-arn", arn],
                )
            )
        else:
            out.append(
                _action(
                    "delete_iam_policy",
                    "iam_policy",
                    arn,
                    what,
                    account_id=r.get("account_id"),
                    region=None,
                    console=_rejected("policy", arn),
                )
            )
    return out


def build_plan(
    scope: Mapping[str, Any], keys: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ordered plan for an incident.

    ``scope``: the incident's scope (``instances``, ``ingress_rules``, ``security_groups``,
    ``key_pairs``, ``iam``, ``assumed_roles``, ``started_at`` as ISO text). ``keys``: long-term
    access key -> owner (``is_root``, ``user_name``, ``account_id``). Order: keys, role sessions,
    instances, ingress rules, created groups, key pairs, IAM.
    """
    plan: list[dict[str, Any]] = []
    for key in sorted(keys):
        plan += key_actions(key, keys[key])
    started = scope.get("revoke_before")
    for role in sorted(
        {r["role_arn"] for r in scope.get("assumed_roles", []) if r.get("role_arn")}
    ):
        account = next(
            r.get("account_id") for r in scope["assumed_roles"] if r.get("role_arn") == role
        )
        plan.append(revoke_sessions_action(role, started or "", account))
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


# --- rendering ------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md(value: Any) -> str:
    """``value`` as inert Markdown text on one line: HTML-escaped (no tags, no autolinks), the
    emphasis, code, link, table and heading characters backslashed, and bare URLs broken
    (``\\://``, ``www\\.``) so that no renderer turns them into links."""
    import html

    text = " ".join(str("" if value is None else value).split())
    text = html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)
    return re.sub(r"(?i)www\.", lambda m: m.group(0)[:3] + "\\.", text.replace("://", "\\://"))


def plan_json(incident_id: str, plan: Sequence[Mapping[str, Any]]) -> str:
    """The plan as JSON text (times as ISO 8601)."""
    return json.dumps({"incident_id": incident_id, "actions": list(plan)}, indent=2, default=str)


def plan_markdown(incident_id: str, plan: Sequence[Mapping[str, Any]]) -> str:
    """The plan as Markdown: one numbered step per action, its command in a code block."""
    lines = [f"## Remediation plan for {md(incident_id)}", ""]
    if not plan:
        lines.append("No resource-level actions: review the activity table.")
    for a in plan:
        done = f" — done {md(a.get('done_at'))}" if a.get("done") else ""
        lines.append(
            f"{a['step']}. **{md(a['action'])}** {md(a['resource_id'])}{done}: "
            f"{md(a['description'])}"
        )
        if a.get("command"):
            lines += ["", "   ```sh", f"   {a['command']}", "   ```"]
        for s in a.get("console_steps") or []:
            lines.append(f"   - {md(s)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
