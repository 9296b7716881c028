"""``spark-submit.sh incidents``: group alerts into incidents; list, show, acknowledge or resolve one."""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jobs.enrich import Enrichment
from jobs.incidents import store
from jobs.incidents.model import aware
from jobs.incidents.report_content import Target
from jobs.incidents.report_markdown import render_markdown
from jobs.incidents.run import run_incidents, write_reports
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.session import build_session


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = job_parser(
        "incidents", "Group alerts into incidents, list them, acknowledge or resolve one."
    )
    parser.add_argument(
        "command", nargs="?", default="run", choices=["run", "list", "show", "ack", "resolve"]
    )
    parser.add_argument("incident_id", nargs="?", help="for show, ack and resolve")
    parser.add_argument("--status", help="list: only incidents with this status")
    parser.add_argument("--json", action="store_true", help="show: the row as JSON")
    parser.add_argument("--by", default=None, help="ack/resolve: who (default: the OS user)")
    parser.add_argument("--note", help="resolve: a resolution note")
    args = parser.parse_args(argv)
    if args.command in ("show", "ack", "resolve") and not args.incident_id:
        parser.error(f"{args.command} needs an incident id")
    return args


def list_lines(incidents: Sequence[dict[str, Any]], status: str | None) -> list[str]:
    """``incidents list`` output: one line per incident, newest first."""
    rows = [i for i in incidents if not status or i["status"] == status]
    rows.sort(key=lambda i: (i["alert_time"], i["incident_id"]), reverse=True)
    out = [f"{'INCIDENT':<24} {'SEVERITY':<9} {'STATUS':<13} {'ALERT (UTC)':<20} {'FIX':<9} TITLE"]
    for i in rows:
        fix = f"{i['actions_done']}/{i['actions_total']}"
        out.append(
            f"{i['incident_id']:<24} {i['severity']:<9} {i['status']:<13} "
            f"{aware(i['alert_time']):%Y-%m-%d %H:%M:%S}  {fix:<9} {i['title']}"
        )
    return out


def main(argv: Sequence[str]) -> int:
    """``spark-submit.sh incidents ...``."""
    args = parse_args(argv)
    conf = config_from_args(args)
    spark = build_session(conf, "trailwarden-incidents")
    lakehouse = conf["lakehouse"]
    now = datetime.now(UTC)
    if args.command == "run":
        enrichment = Enrichment.of(spark, conf)
        for line in run_incidents(spark, conf, new_run_id(), enrichment, now=now).lines():
            print(line)
    elif args.command == "list":
        for line in list_lines(store.load_incidents(spark, lakehouse), args.status):
            print(line)
    elif args.command == "show":
        found = store.load_incidents(spark, lakehouse, args.incident_id)
        if not found:
            raise ValueError(f"no incident {args.incident_id}.")
        if args.json:
            print(json.dumps(found[0], indent=2, default=str))
        else:
            print(render_markdown(aware(found[0]), Target.of(conf)))
    else:
        who = args.by or getpass.getuser()
        status = "acknowledged" if args.command == "ack" else "resolved"
        store.set_status(spark, lakehouse, args.incident_id, status, who, args.note, now)
        found = [aware(i) for i in store.load_incidents(spark, lakehouse, args.incident_id)]
        write_reports(conf, found)
        print(f"{args.incident_id}: {found[0]['status']} by {who}")
    return 0
