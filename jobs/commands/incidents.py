"""``spark-submit.sh incidents``: group alerts into incidents; list, show, ack or resolve one.

``list`` and ``show`` only read ``gold/incidents``: they run as plain Python without a JVM
(delta-rs, ``jobs.runtime.delta_reader``). ``run``, ``ack`` and ``resolve`` write (Delta MERGE
and UPDATE) through Spark, whose modules are imported only for them. Every line printed passes
through ``jobs.runtime.terminal``, which makes log-derived text inert.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jobs.runtime import delta_reader
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.lock import writer_lock
from jobs.runtime.terminal import safe, safe_json, safe_lines
from jobs.runtime.times import utc


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
    """``incidents list`` output: one line per incident, newest first (raw: print through
    ``terminal.safe``)."""
    rows = [i for i in incidents if not status or i["status"] == status]
    rows.sort(key=lambda i: (utc(i["alert_time"]), i["incident_id"]), reverse=True)
    out = [f"{'INCIDENT':<24} {'SEVERITY':<9} {'STATUS':<13} {'ALERT (UTC)':<20} {'FIX':<9} TITLE"]
    for i in rows:
        fix = f"{i['actions_done']}/{i['actions_total']}"
        out.append(
            f"{i['incident_id']:<24} {i['severity']:<9} {i['status']:<13} "
            f"{utc(i['alert_time']):%Y-%m-%d %H:%M:%S}  {fix:<9} {i['title']}"
        )
    return out


def show_lines(incidents: Sequence[dict[str, Any]], incident_id: str, as_json: bool,
               conf: dict[str, Any]) -> list[str]:
    """``incidents show`` output: the incident's Markdown report (or its row as JSON), as lines
    that are inert at a terminal (``terminal.safe_lines``, ``terminal.safe_json``)."""
    found = [i for i in incidents if i["incident_id"] == incident_id]
    if not found:
        from jobs.incidents.store import check_incident_id  # the reason when the id is malformed

        check_incident_id(incident_id)
        raise ValueError(f"no incident {incident_id}.")
    if as_json:
        return safe_json(found[0], indent=2).split("\n")
    from jobs.incidents.report_content import Target
    from jobs.incidents.report_markdown import render_markdown

    return safe_lines(render_markdown(found[0], Target.of(conf)))


def read_incidents(conf: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``gold/incidents`` row, without Spark (none before the first incidents run)."""
    path = delta_reader.table_uri(conf["lakehouse"], delta_reader.INCIDENTS)
    return delta_reader.read_rows(path, conf.get("s3") or {}, os.environ) or []


def main(argv: Sequence[str]) -> int:
    """``spark-submit.sh incidents ...``."""
    args = parse_args(argv)
    conf = config_from_args(args)
    if args.command == "list":
        lines = [safe(line) for line in list_lines(read_incidents(conf), args.status)]
    elif args.command == "show":
        lines = show_lines(read_incidents(conf), args.incident_id, args.json, conf)
    else:
        lines = [safe(line) for line in write_with_spark(args, conf)]
    for line in lines:
        print(line)
    return 0


def write_with_spark(args: argparse.Namespace, conf: dict[str, Any]) -> list[str]:
    """``run``, ``ack`` and ``resolve``: they MERGE into and UPDATE Delta tables through Spark."""
    from jobs.runtime.session import build_session

    with writer_lock(conf, f"incidents {args.command}"):
        return _write(args, conf, build_session(conf, "trailwarden-incidents"))


def _write(args: argparse.Namespace, conf: dict[str, Any], spark: Any) -> list[str]:
    """The write itself, under the writer lock."""
    from jobs.enrich import Enrichment
    from jobs.incidents import store
    from jobs.incidents.model import aware
    from jobs.incidents.run import run_incidents, write_reports

    lakehouse = conf["lakehouse"]
    now = datetime.now(UTC)
    if args.command == "run":
        enrichment = Enrichment.of(spark, conf)
        return run_incidents(spark, conf, new_run_id(), enrichment, now=now).lines()
    who = args.by or getpass.getuser()
    status = "acknowledged" if args.command == "ack" else "resolved"
    store.set_status(spark, lakehouse, args.incident_id, status, who, args.note, now)
    found = [aware(i) for i in store.load_incidents(spark, lakehouse, args.incident_id)]
    write_reports(conf, found)
    return [f"{args.incident_id}: {found[0]['status']} by {who}"]
