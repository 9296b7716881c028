"""The remediate job: ``spark-submit.sh remediate INCIDENT_ID [--json] [--execute [--yes]]``.

Prints the incident's plan. With ``--execute`` it checks which account each action may run in
(the credentials' own, or another through ``remediate.role_arn_template``), dry-runs every EC2
action, asks for confirmation (``--yes`` skips the prompt, for automation) and then carries the
plan out with boto3. Root-key actions stay manual: their console steps are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from jobs.incidents import store
from jobs.incidents.execute import Assume, Clients, Outcome, dry_run, execute, route
from jobs.incidents.model import aware
from jobs.incidents.plan import plan_json
from jobs.incidents.report_markdown import plan_markdown
from jobs.runtime.cli import config_from_args, job_parser
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe, safe_json, safe_lines


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = job_parser("remediate", "Print an incident's remediation plan, or carry it out.")
    parser.add_argument("incident_id")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--execute", action="store_true", help="carry the plan out with boto3")
    parser.add_argument(
        "--yes", action="store_true", help="with --execute: do not ask for confirmation"
    )
    parser.add_argument("--endpoint-url", help="AWS endpoint (tests against a moto server)")
    return parser.parse_args(argv)


def boto3_clients(endpoint_url: str | None, credentials: dict[str, Any] | None = None) -> Clients:
    """A ``clients(service, region)`` factory over boto3 (one client per service and region),
    with the default credential chain or ``credentials`` (an STS ``Credentials`` dict)."""
    import boto3

    keys = (
        {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }
        if credentials
        else {}
    )
    cache: dict[tuple[str, str | None], Any] = {}

    def make(service: str, region: str | None) -> Any:
        key = (service, region)
        if key not in cache:
            cache[key] = boto3.client(
                service, region_name=region or "us-east-1", endpoint_url=endpoint_url, **keys
            )
        return cache[key]

    return make


def role_assumer(
    template: str, session_name: str, clients: Clients, endpoint_url: str | None
) -> Assume | None:
    """``assume(account)``: clients acting in ``account`` through the role ``template`` names
    (``{account}`` replaced), assumed with STS from ``clients``; None without a template."""
    if not template:
        return None

    def assume(account: str) -> Clients:
        role = template.format(account=account)
        found = clients("sts", None).assume_role(RoleArn=role, RoleSessionName=session_name)
        return boto3_clients(endpoint_url, found["Credentials"])

    return assume


def outcome_lines(title: str, outcomes: Sequence[Outcome]) -> list[str]:
    """The outcomes, one inert line each: resource ids come from logs, messages from AWS."""
    return [title] + [
        safe(f"  {o.step:>3}. {o.action} {o.resource_id}: {o.status}"
             + (f" ({o.message})" if o.message else ""))
        for o in outcomes
    ]


def carry_out(
    plan: Sequence[dict[str, Any]],
    clients: Clients,
    confirm: Callable[[str], bool],
    out: Callable[[str], None] = print,
    retry_seconds: float = 120.0,
    assume: Assume | None = None,
) -> int:
    """Route each account, dry run, confirm, execute; 0 when every action that could run was
    done and none was refused, 1 otherwise."""
    try:
        routes = route(plan, clients, assume)
    except Exception as exc:  # noqa: BLE001 - botocore errors carry their own text
        out(f"could not read the credentials' account ({exc}): nothing was changed.")
        return 1
    for reason in routes.refused.values():
        out(f"refused: {safe(reason)}")
    checked = dry_run(plan, routes)
    for line in outcome_lines("dry run:", checked):
        out(line)
    failed = [o for o in checked if o.status == "failed"]
    if failed:
        out(f"dry run failed for {len(failed)} action(s): nothing was changed.")
        return 1
    todo = [o for o in checked if o.status in ("would-succeed", "no-dry-run")]
    refused = any(o.status == "refused" for o in checked)
    if not todo:
        out("nothing to execute.")
        return 1 if refused else 0
    if not confirm(f"Execute {len(todo)} action(s) against AWS? [y/N] "):
        out("not confirmed: nothing was changed.")
        return 1
    done = execute(plan, routes, checked, retry_seconds=retry_seconds)
    for line in outcome_lines("executed:", done):
        out(line)
    manual = [o for o in done if o.status == "manual"]
    if manual:
        out(
            f"{len(manual)} action(s) need the console (steps above). The next run marks the "
            "incident fixed once CloudTrail shows every action."
        )
    return 1 if refused or any(o.status == "failed" for o in done) else 0


def ask(prompt: str) -> bool:
    """An interactive yes/no on the terminal."""
    if not sys.stdin.isatty():
        return False
    return input(prompt).strip().lower() in ("y", "yes")


def main(argv: Sequence[str]) -> int:
    """``spark-submit.sh remediate INCIDENT_ID ...``."""
    args = parse_args(argv)
    store.check_incident_id(args.incident_id)
    conf = config_from_args(args)
    with writer_lock(conf, "remediate --execute") if args.execute else nullcontext():
        return remediate(args, conf)


def remediate(args: argparse.Namespace, conf: dict[str, Any]) -> int:
    """Print the plan; with ``--execute``, carry it out (the caller holds the writer lock)."""
    spark = build_session(conf, "trailwarden-remediate")
    found = store.load_incidents(spark, conf["lakehouse"], args.incident_id)
    if not found:
        raise ValueError(f"no incident {args.incident_id}.")
    plan = aware(found[0]["remediation"])
    if args.json:  # ASCII JSON whose DEL is escaped too; Markdown lines made inert
        print(safe_json(json.loads(plan_json(args.incident_id, plan)), indent=2))
    else:
        print("\n".join(safe_lines(plan_markdown(args.incident_id, plan))))
    if not args.execute:
        return 0
    confirm = (lambda _prompt: True) if args.yes else ask
    clients = boto3_clients(args.endpoint_url)
    settings = conf["remediate"]
    assume = role_assumer(
        settings["role_arn_template"], settings["session_name"], clients, args.endpoint_url
    )
    return carry_out(plan, clients, confirm, assume=assume)
