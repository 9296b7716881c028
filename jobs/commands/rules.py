"""``spark-submit.sh rules [--json]``: each detection's health at a terminal.

Plain Python, no JVM: ``gold/detection_health`` and ``gold/alerts`` are read with delta-rs
(``jobs.runtime.delta_reader``). Per detection: its mode, last run, alerts per day over 7 and 30
days (by when they were raised), the share of those suppressed by an exception, whether it has
never fired, and its last error. Expired exceptions are listed after the table.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.detect.catalog import Detection, is_enabled, load_catalog, load_settings, settings_path
from jobs.detect.exceptions import load_exceptions, split_expired
from jobs.detect.tuning import exceptions_path
from jobs.runtime import delta_reader
from jobs.runtime.cli import config_from_args, job_parser
from jobs.runtime.terminal import safe, safe_json

DAYS = (7, 30)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Options: --json."""
    parser = job_parser("rules", "Print each detection's health: runs, alert rates, errors.")
    parser.add_argument("--json", action="store_true", help="one JSON object per detection")
    return parser.parse_args(list(argv))


def rule_rows(
    catalog: Iterable[Detection],
    enabled: Iterable[str],
    health: Iterable[dict[str, Any]],
    alerts: Iterable[dict[str, Any]],
    now: datetime,
) -> list[dict[str, Any]]:
    """One summary per detection, in catalog order."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for h in health:
        runs.setdefault(h["detection_id"], []).append(h)
    raised: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        raised.setdefault(a["detection_id"], []).append(a)
    on = set(enabled)
    out = []
    for d in catalog:
        mine = sorted(runs.get(d.id, []), key=lambda h: h["evaluated_at"])
        errors = [h for h in mine if h["error"]]
        ever = raised.get(d.id, [])
        recent = {n: [a for a in ever if a["created_at"] >= now - timedelta(days=n)] for n in DAYS}
        month = recent[DAYS[-1]]
        suppressed = sum(1 for a in month if a["status"] == "suppressed")
        out.append(
            {
                "detection_id": d.id,
                "detection_name": d.name,
                "mode": mine[-1]["mode"] if mine else "live",
                "enabled": d.name in on,
                "last_run": mine[-1]["evaluated_at"] if mine else None,
                **{f"alerts_per_day_{n}d": round(len(recent[n]) / n, 2) for n in DAYS},
                "suppressed_share": round(suppressed / len(month), 2) if month else None,
                "never_fired": not ever,
                "last_error": errors[-1]["error"] if errors else None,
                "last_error_at": errors[-1]["evaluated_at"] if errors else None,
            }
        )
    return out


def lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The summaries as a fixed-width table (raw: print through ``terminal.safe``)."""
    out = [
        f"{'detection':<34} {'mode':<8} {'last run':<17} {'/day 7d':>8} {'/day 30d':>8} "
        f"{'suppr.':>6}  notes"
    ]
    for r in rows:
        last = f"{r['last_run']:%Y-%m-%d %H:%M}" if r["last_run"] else "never"
        share = f"{r['suppressed_share']:.0%}" if r["suppressed_share"] is not None else "-"
        notes = [
            n
            for n in (
                "disabled" if not r["enabled"] else "",
                "never fired" if r["never_fired"] else "",
                f"last error {r['last_error_at']:%Y-%m-%d %H:%M}: {r['last_error']}"
                if r["last_error"]
                else "",
            )
            if n
        ]
        out.append(
            f"{r['detection_name']:<34} {r['mode']:<8} {last:<17} {r['alerts_per_day_7d']:>8} "
            f"{r['alerts_per_day_30d']:>8} {share:>6}  {'; '.join(notes)}"
        )
    return out


def main(argv: Sequence[str]) -> int:
    """Print the health table."""
    args = parse_args(argv)
    conf = config_from_args(args)
    s3 = conf.get("s3") or {}

    def read(name: str) -> list[dict[str, Any]]:
        uri = delta_reader.table_uri(conf["lakehouse"], name)
        return delta_reader.read_rows(uri, s3, os.environ) or []

    settings = load_settings(settings_path(conf))
    catalog = load_catalog()
    now = datetime.now(UTC)
    rows = rule_rows(
        catalog,
        [d.name for d in catalog if is_enabled(d, settings)],
        read(delta_reader.DETECTION_HEALTH),
        read(delta_reader.ALERTS),
        now,
    )
    for line in [safe_json(r) for r in rows] if args.json else [safe(x) for x in lines(rows)]:
        print(line)
    path = exceptions_path(conf)
    if path is not None and not args.json:
        names = [k for d in catalog for k in (d.id, d.name)]
        for e in split_expired(load_exceptions(path, names), now)[1]:
            print(
                safe(f"expired exception {e.id} ({e.expires:%Y-%m-%d}, {e.owner}) matches nothing")
            )
    return 0
