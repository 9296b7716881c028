"""Carrying out a remediation plan with boto3: EC2 dry run first, then, once confirmed, for real.

The calls are exactly the plan's printed commands: each command line is split back with
``shlex`` and mapped, through an allowlist of operations and options, to the boto3 call. Clients
come from a ``clients(service, region)`` factory the caller passes in (never created here).
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("trailwarden.remediate")

Clients = Callable[[str, str | None], Any]

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
    status: str  # would-succeed | no-dry-run | manual | already-done | done | gone | failed
    message: str = ""


def to_call(command_line: str) -> Call:
    """The boto3 call a plan command stands for; ValueError for anything off the allowlist."""
    argv = shlex.split(command_line)
    if len(argv) < 3 or argv[0] != "aws" or (argv[1], argv[2]) not in OPERATIONS:
        raise ValueError(f"not an allowed remediation command: {command_line!r}")
    service, method = argv[1], OPERATIONS[(argv[1], argv[2])]
    params: dict[str, Any] = {}
    region = None
    i = 3
    while i < len(argv):
        opt = argv[i]
        if opt == "--region":
            region, i = argv[i + 1], i + 2
            continue
        if opt not in OPTIONS:
            raise ValueError(f"unexpected option {opt!r} in {command_line!r}")
        name, kind = OPTIONS[opt]
        values = []
        i += 1
        while i < len(argv) and not argv[i].startswith("--"):
            values.append(argv[i])
            i += 1
        if kind == "list":
            params[name] = values
        elif kind == "json":
            params[name] = json.loads(values[0])
        else:
            params[name] = values[0]
    return Call(service, region, method, params)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")) or type(exc).__name__


def dry_run(plan: Sequence[Mapping[str, Any]], clients: Clients) -> list[Outcome]:
    """Check every action: EC2 calls with ``DryRun=True``; IAM has no dry run (listed as such);
    console-only actions are manual; actions CloudTrail already shows done are skipped."""
    out = []
    for a in plan:
        o = Outcome(a["step"], a["action"], a["resource_id"], "")
        if a.get("done"):
            o.status, o.message = "already-done", f"seen in CloudTrail at {a.get('done_at')}"
        elif not a.get("command"):
            o.status, o.message = "manual", " / ".join(a.get("console_steps") or [])
        else:
            call = to_call(a["command"])
            if call.service != "ec2":
                o.status, o.message = "no-dry-run", f"{call.service}.{call.method} has no dry run"
            else:
                try:
                    getattr(clients(call.service, call.region), call.method)(
                        DryRun=True, **call.params
                    )
                    o.status, o.message = (
                        "would-succeed",
                        "dry run returned without DryRunOperation",
                    )
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
    clients: Clients,
    checked: Sequence[Outcome],
    *,
    retry_seconds: float = 120.0,
) -> list[Outcome]:
    """Run every action the dry run cleared (``would-succeed`` or ``no-dry-run``), in plan order.

    A group still in use right after its instances were terminated (DependencyViolation) is
    retried until ``retry_seconds`` have passed.
    """
    out = []
    for a, seen in zip(plan, checked, strict=True):
        if seen.status not in ("would-succeed", "no-dry-run"):
            out.append(seen)
            continue
        call = to_call(a["command"])
        client = clients(call.service, call.region)
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
