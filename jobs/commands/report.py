"""The report job: ``spark-submit.sh report [INCIDENT_ID]`` writes the incident reports and the
response-metrics report under ``<lakehouse>/reports/`` and prints their paths."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jobs.incidents import store
from jobs.incidents.model import aware
from jobs.incidents.report_markdown import metrics_markdown
from jobs.incidents.run import update_metrics, write_reports
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe, safe_lines


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = job_parser(
        "report", "Write incident reports (Markdown and HTML) and the response metrics."
    )
    parser.add_argument("incident_id", nargs="?", help="one incident (default: every incident)")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """``spark-submit.sh report [INCIDENT_ID]``."""
    args = parse_args(argv)
    conf = config_from_args(args)
    with writer_lock(conf, "report"):
        for line in write_all(args, conf):
            print(line)
    return 0


def write_all(args: argparse.Namespace, conf: dict[str, Any]) -> list[str]:
    """Write the reports (and, for every incident, the metrics); the lines to print, inert."""
    spark = build_session(conf, "trailwarden-report")
    incidents = [aware(i) for i in store.load_incidents(spark, conf["lakehouse"], args.incident_id)]
    if args.incident_id and not incidents:
        raise ValueError(f"no incident {args.incident_id}.")
    live = [i for i in incidents if i["status"] != "merged"]
    lines = [safe(f"{iid}: {path}") for iid, path in write_reports(conf, live).items()]
    if not args.incident_id:
        rows = update_metrics(spark, conf, incidents, new_run_id(), datetime.now(UTC))
        lines += safe_lines(metrics_markdown(rows))
    return lines
