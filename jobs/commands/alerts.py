"""``spark-submit.sh alerts [--since 24h] [--severity high] [--json]``: list alerts at a terminal.

Plain Python, no JVM: ``gold/alerts`` is read with delta-rs (``jobs.runtime.delta_reader``).
``--since`` filters on ``updated_at`` (when the pipeline last raised or changed the alert), so the
alerts of the latest runs show even for old event times; ``--since all`` lists everything.
Every line printed passes through ``jobs.runtime.terminal``, which makes log-derived text inert.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from jobs.runtime import delta_reader
from jobs.runtime.cli import config_from_args, job_parser
from jobs.runtime.terminal import safe, safe_json
from jobs.runtime.times import parse_duration
from schemas.severities import SEVERITIES


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Options: --since, --severity, --detection, --json, --limit."""
    parser = job_parser("alerts", "List alerts, most severe and newest first.")
    parser.add_argument(
        "--since", default="24h", help="updated within this long (24h, 7d, 30m) or 'all'"
    )
    parser.add_argument("--severity", default="low", choices=SEVERITIES, help="minimum severity")
    parser.add_argument("--detection", help="only this detection (name or id)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--limit", type=int, default=100)
    return parser.parse_args(list(argv))


def _rank(row: dict[str, Any]) -> int:
    """1 (info) to 5 (critical); 0 for a severity outside ``SEVERITIES``."""
    return SEVERITIES.index(row["severity"]) + 1 if row["severity"] in SEVERITIES else 0


def select_alerts(
    alerts: Iterable[dict[str, Any]], since: str, severity: str, detection: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Alerts updated since ``since`` at ``severity`` or above, most severe and newest first
    (ties by ``alert_id``)."""
    cutoff = None if since == "all" else now - parse_duration(since)
    out = [
        a for a in alerts
        if _rank(a) >= SEVERITIES.index(severity) + 1
        and (cutoff is None or a["updated_at"] >= cutoff)
        and (not detection or detection in (a["detection_name"], a["detection_id"]))
    ]
    out.sort(key=lambda a: a["alert_id"])
    out.sort(key=lambda a: (_rank(a), a["alert_time"]), reverse=True)  # stable: ids stay ascending
    return out


def alert_lines(row: dict[str, Any]) -> list[str]:
    """One alert as two terminal lines (raw: print through ``terminal.safe``)."""
    entities = ", ".join(f"{e['type']}:{e['value']}" for e in row["entities"][:6])
    more = f" (+{len(row['entities']) - 6})" if len(row["entities"]) > 6 else ""
    status = row.get("status")
    tag = (f"  [suppressed by {row.get('exception_id')}]" if status == "suppressed"
           else "  [dry run]" if status == "dry_run" else "")
    return [
        f"{row['severity'].upper():<8} {row['alert_time']:%Y-%m-%d %H:%M:%S}  "
        f"{row['detection_id']}  {row['title']}",
        f"         {row['alert_id']}  {row['event_count']} events  {entities}{more}{tag}",
    ]


def main(argv: Sequence[str]) -> int:
    """List alerts."""
    args = parse_args(argv)
    conf = config_from_args(args)
    path = delta_reader.table_uri(conf["lakehouse"], delta_reader.ALERTS)
    rows = delta_reader.read_rows(path, conf.get("s3") or {}, os.environ)
    if rows is None:
        print(f"trailwarden alerts: no alert table at {path}; run the pipeline first.",
              file=sys.stderr)
        return 1
    chosen = select_alerts(
        rows, args.since, args.severity, args.detection, datetime.now(UTC)
    )[: args.limit]
    for row in chosen:
        lines = [safe_json(row)] if args.json else [safe(line) for line in alert_lines(row)]
        print("\n".join(lines))
    if not args.json:
        print(safe(f"{len(chosen)} alerts (severity >= {args.severity}, since {args.since})"))
    return 0
