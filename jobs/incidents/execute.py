"""Carrying out a remediation plan with boto3: EC2 dry run first, then, once confirmed, for real.

The calls are exactly the plan's printed commands, and only after each stored action is
re-validated against its kind (``specs.stored_arguments``): the command must be what the kind
prints for validated arguments naming the action's resource, region and account; the boto3
parameters then come from the kind's template, through an allowlist of operations and options.
Every action runs in its own account: the credentials' account (``sts get-caller-identity``),
or another through the role ``assume(account)`` returns; without one, every action in that
account is refused. Clients come from factories the caller passes in (never created here).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobs.incidents.actions import valid
from jobs.incidents.specs import stored_arguments

log = logging.getLogger("trailwarden.remediate")

Clients = Callable[[str, str | None], Any]
Assume = Callable[[str], Clients]  # account -> clients acting in that account

# (service, CLI operation) -> boto3 method; options -> (boto3 parameter, kind)
OPERATIONS = {
    ("iam", "update-access-key"): "update_access_key",
    ("iam", "delete-access-key"): "delete_access_key",
    ("iam", "put-role-policy"): "put_role_policy",
    ("iam", "delete-login-profile"): "delete_login_profile",
    ("iam", "detach-user-policy"): "detach_user_policy",
    ("iam", "delete-user-policy"): "delete_user_policy",
    ("iam", "delete-user"): "delete_user",
    ("iam", "delete-policy"): "delete_policy",
    ("iam", "remove-user-from-group"): "remove_user_from_group",
    ("iam", "detach-role-policy"): "detach_role_policy",
    ("iam", "delete-role-policy"): "delete_role_policy",
    ("ec2", "terminate-instances"): "terminate_instances",
    ("ec2", "revoke-security-group-ingress"): "revoke_security_group_ingress",
    ("ec2", "delete-security-group"): "delete_security_group",
    ("ec2", "delete-key-pair"): "delete_key_pair",
}
OPTIONS = {
    "--user-name": ("UserName", "str"),
    "--access-key-id": ("AccessKeyId", "str"),
    "--status": ("Status", "str"),
    "--role-name": ("RoleName", "str"),
    "--policy-name": ("PolicyName", "str"),
    "--policy-document": ("PolicyDocument", "str"),
    "--policy-arn": ("PolicyArn", "str"),
    "--instance-ids": ("InstanceIds", "list"),
    "--group-id": ("GroupId", "str"),
    "--security-group-rule-ids": ("SecurityGroupRuleIds", "list"),
    "--ip-permissions": ("IpPermissions", "json"),
    "--key-pair-id": ("KeyPairId", "str"),
    "--key-name": ("KeyName", "str"),
    "--group-name": ("GroupName", "str"),
}
GONE = {
    "InvalidInstanceID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidKeyPair.NotFound",
    "InvalidPermission.NotFound",
    "NoSuchEntity",
}


@dataclass(frozen=True)
class Call:
    """One boto3 call: service, region, method and parameters."""

    service: str
    region: str | None
    method: str
    params: dict[str, Any]


@dataclass
class Outcome:
    """What happened to one action."""

    step: int
    action: str
    resource_id: str
    # would-succeed | no-dry-run | manual | already-done | refused | done | gone | failed
    status: str
    message: str = ""


@dataclass(frozen=True)
class Routes:
    """Per account of the plan: the clients acting in it, or the one sentence why it is
    refused (``route``)."""

    home: str
    clients: dict[str, Clients]
    refused: dict[str, str]


def to_call(action: Mapping[str, Any]) -> Call:
    """The boto3 call a stored action stands for, once re-validated; ValueError otherwise."""
    _, form, values = stored_arguments(action)
    argv = form.render(values)
    method = OPERATIONS.get((argv[1], argv[2]))
    if method is None:
        raise ValueError(f"step {action.get('step')}: {argv[1]} {argv[2]} is not allowed.")
    params: dict[str, Any] = {}
    for option, value in form.options(values):
        if option == "--region":
            continue
        name, kind = OPTIONS[option]
        if kind == "list":
            params[name] = value if isinstance(value, list) else [value]
        else:
            params[name] = json.loads(value) if kind == "json" else value
    return Call(argv[1], values.get("region"), method, params)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")) or type(exc).__name__


def _account_of(clients: Clients) -> str:
    return str(clients("sts", None).get_caller_identity()["Account"])


def route(plan: Sequence[Mapping[str, Any]], clients: Clients, assume: Assume | None) -> Routes:
    """Which clients run each account's actions. The credentials' own account runs with
    ``clients``; another only through ``assume(account)``, checked to act in that account.
    Raises when the credentials' account cannot be read."""
    home = _account_of(clients)
    wanted = {a.get("account_id") for a in plan if a.get("command") and not a.get("done")}
    routes = Routes(home, {}, {})
    for account in sorted(wanted, key=str):
        key = str(account)
        if not valid("account", account):
            routes.refused[key] = f"{key!r} is not an account id: its actions were not run."
        elif account == home:
            routes.clients[key] = clients
        elif assume is None:
            routes.refused[key] = (
                f"Account {key} is not the credentials' account {home} and no "
                "remediate.role_arn_template is configured: nothing in it was run."
            )
        else:
            try:
                other = assume(key)
                seen = _account_of(other)
            except Exception as exc:  # noqa: BLE001 - botocore ClientError carries the code
                routes.refused[key] = (
                    f"Assuming the remediation role in account {key} failed ({_code(exc)}): "
                    "nothing in it was run."
                )
                continue
            if seen != key:
                routes.refused[key] = (
                    f"The role assumed for account {key} acts in account {seen}: nothing in "
                    f"account {key} was run."
                )
            else:
                routes.clients[key] = other
    return routes


def _check(a: Mapping[str, Any], routes: Routes) -> tuple[Outcome, Call | None]:
    """The outcome of an action that does not run (done, manual, refused), else its call."""
    o = Outcome(a["step"], a["action"], a["resource_id"], "")
    if a.get("done"):
        o.status, o.message = "already-done", f"seen in CloudTrail at {a.get('done_at')}"
        return o, None
    if not a.get("command"):
        o.status, o.message = "manual", " / ".join(a.get("console_steps") or [])
        return o, None
    refused = routes.refused.get(str(a.get("account_id")))
    if refused:
        o.status, o.message = "refused", refused
        return o, None
    try:
        return o, to_call(a)
    except ValueError as exc:
        o.status, o.message = "refused", str(exc)
        return o, None


def dry_run(plan: Sequence[Mapping[str, Any]], routes: Routes) -> list[Outcome]:
    """Check every action: EC2 calls with ``DryRun=True``; IAM has no dry run (listed as such);
    console-only actions are manual; actions CloudTrail already shows done are skipped; an
    action that fails re-validation, or whose account is refused, is refused."""
    out = []
    for a in plan:
        o, call = _check(a, routes)
        if call is None:
            out.append(o)
            continue
        if call.service != "ec2":
            o.status, o.message = "no-dry-run", f"{call.service}.{call.method} has no dry run"
        else:
            clients = routes.clients[str(a["account_id"])]
            try:
                getattr(clients(call.service, call.region), call.method)(DryRun=True, **call.params)
                o.status, o.message = "would-succeed", "dry run returned without DryRunOperation"
            except Exception as exc:  # noqa: BLE001 - botocore ClientError carries the code
                code = _code(exc)
                if code == "DryRunOperation":
                    o.status, o.message = "would-succeed", "DryRunOperation"
                elif code in GONE:
                    o.status, o.message = "gone", code
                else:
                    o.status, o.message = "failed", f"{code}: {exc}"
        out.append(o)
    return out


def execute(
    plan: Sequence[Mapping[str, Any]],
    routes: Routes,
    checked: Sequence[Outcome],
    *,
    retry_seconds: float = 120.0,
) -> list[Outcome]:
    """Run every action the dry run cleared (``would-succeed`` or ``no-dry-run``), in plan order,
    in its account.

    A group still in use right after its instances were terminated (DependencyViolation) is
    retried until ``retry_seconds`` have passed.
    """
    out = []
    for a, seen in zip(plan, checked, strict=True):
        if seen.status not in ("would-succeed", "no-dry-run"):
            out.append(seen)
            continue
        call = to_call(a)
        client = routes.clients[str(a["account_id"])](call.service, call.region)
        deadline = time.monotonic() + retry_seconds
        while True:
            try:
                getattr(client, call.method)(**call.params)
                out.append(Outcome(seen.step, seen.action, seen.resource_id, "done", call.method))
                break
            except Exception as exc:  # noqa: BLE001
                code = _code(exc)
                if code == "DependencyViolation" and time.monotonic() < deadline:
                    time.sleep(5)
                    continue
                status = "gone" if code in GONE else "failed"
                out.append(
                    Outcome(seen.step, seen.action, seen.resource_id, status, f"{code}: {exc}")
                )
                break
        log.info(
            "remediate: step %d %s %s -> %s",
            seen.step,
            seen.action,
            seen.resource_id,
            out[-1].status,
        )
    return out
