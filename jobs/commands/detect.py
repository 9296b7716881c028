"""``spark-submit.sh detect``: run the detections incrementally, or retro-hunt one detection."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from jobs.detect.run import retro_hunt, run_detections
from jobs.enrich import Enrichment
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe
from jobs.runtime.times import parse_time


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``detect [--detection NAME --from T --to T [--write]]`` plus the common job options."""
    parser = job_parser("detect", "Run the detections incrementally, or retro-hunt one detection.")
    parser.add_argument("--detection", help="retro-hunt: the detection name or id to re-run")
    parser.add_argument("--from", dest="start", help="retro-hunt start (ISO-8601, UTC)")
    parser.add_argument("--to", dest="end", help="retro-hunt end (ISO-8601, UTC)")
    parser.add_argument("--write", action="store_true", help="retro-hunt: MERGE what it finds")
    parser.add_argument(
        "--backfill", action="store_true",
        help="evaluate all landed history a detection has not covered, not only "
             "detect.initial_lookback",
    )
    args = parser.parse_args(list(argv))
    hunt = [args.detection, args.start, args.end]
    if any(hunt) and not all(hunt):
        parser.error("a retro-hunt needs --detection, --from and --to together.")
    if args.write and not args.detection:
        parser.error("--write applies to a retro-hunt (--detection) only.")
    return args


def main(argv: Sequence[str]) -> int:
    """``spark-submit.sh detect``."""
    args = parse_args(argv)
    conf = config_from_args(args)
    if args.backfill:
        conf.setdefault("detect", {})["backfill"] = True
    with writer_lock(conf, "detect"):
        return run(args, conf)


def run(args: argparse.Namespace, conf: dict[str, Any]) -> int:
    """Incremental detection or the retro-hunt, under the lakehouse's writer lock."""
    spark = build_session(conf, "trailwarden-detect")
    run_id = new_run_id()
    enrichment = Enrichment.of(spark, conf)
    if not args.detection:
        print(safe(f"detect {run_id}: {run_detections(spark, conf, run_id, enrichment)}"))
        return 0
    result = retro_hunt(spark, conf, args.detection, parse_time(args.start), parse_time(args.end),
                        args.write, run_id, enrichment)
    verb = "wrote" if args.write else "would write"
    print(safe(f"retro-hunt {args.detection}: {verb} {len(result.new)} new and "
               f"{len(result.changed)} changed alerts; {result.unchanged} unchanged"))
    for label, rows in (("new", result.new), ("changed", result.changed)):
        for r in rows:
            print(safe(f"  {label:<8}{r['alert_id']}  {r['severity']:<8} "
                       f"{r['first_seen']:%Y-%m-%d %H:%M}  {r['title']}"))
    return 0
