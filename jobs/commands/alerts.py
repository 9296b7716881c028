"""``spark-submit.sh alerts [--since 24h] [--severity high] [--json]``: list alerts at a terminal.

``--since`` filters on ``updated_at`` (when the pipeline last raised or changed the alert), so the
alerts of the latest runs show even for old event times; ``--since all`` lists everything.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lakehouse as tables
from jobs.detect.run import ALERTS_TABLE
from jobs.runtime.cli import config_from_args, job_parser
from jobs.runtime.times import parse_duration
from schemas.alerts import SEVERITIES


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Options: --since, --severity, --detection, --json, --limit."""
    parser = job_parser("alerts", "List alerts, most severe and newest first.")
    parser.add_argument("--since", default="24h", help="updated within this long (24h, 7d, 30m) or 'all'")
    parser.add_argument("--severity", default="low", choices=SEVERITIES, help="minimum severity")
    parser.add_argument("--detection", help="only this detection (name or id)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--limit", type=int, default=100)
    return parser.parse_args(list(argv))


def select_alerts(
    alerts: DataFrame, since: str, severity: str, detection: str | None, now: datetime
) -> DataFrame:
    """Alerts updated since ``since`` at ``severity`` or above, most severe and newest first."""
    ranks = F.array_position(F.array(*[F.lit(s) for s in SEVERITIES]), F.col("severity"))
    out = alerts.where(ranks >= SEVERITIES.index(severity) + 1)
    if since != "all":
        out = out.where(F.col("updated_at") >= F.lit(now - parse_duration(since)))
    if detection:
        out = out.where((F.col("detection_name") == detection) | (F.col("detection_id") == detection))
    return out.orderBy(ranks.desc(), F.col("alert_time").desc(), "alert_id")


def render(row: dict[str, Any]) -> str:
    """One alert as two terminal lines."""
    entities = ", ".join(f"{e['type']}:{e['value']}" for e in row["entities"][:6])
    more = f" (+{len(row['entities']) - 6})" if len(row["entities"]) > 6 else ""
    return (
        f"{row['severity'].upper():<8} {row['alert_time']:%Y-%m-%d %H:%M:%S}  {row['detection_id']}  "
        f"{row['title']}\n         {row['alert_id']}  {row['event_count']} events  {entities}{more}"
    )


def _json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


def main(argv: Sequence[str]) -> int:
    """List alerts."""
    from jobs.runtime.session import build_session

    args = parse_args(argv)
    conf = config_from_args(args)
    spark: SparkSession = build_session(conf, "trailwarden-alerts")
    path = tables.table_path(conf["lakehouse"], ALERTS_TABLE)
    if not DeltaTable.isDeltaTable(spark, path):
        print(f"trailwarden alerts: no alert table at {path}; run the pipeline first.", file=sys.stderr)
        return 1
    rows = select_alerts(
        spark.read.format("delta").load(path), args.since, args.severity, args.detection,
        datetime.now(UTC),
    ).limit(args.limit).collect()
    for row in rows:
        print(_json(row.asDict(recursive=True)) if args.json else render(row.asDict(recursive=True)))
    if not args.json:
        print(f"{len(rows)} alerts (severity >= {args.severity}, since {args.since})")
    return 0
