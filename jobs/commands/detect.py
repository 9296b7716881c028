"""``spark-submit.sh detect``: run the detections incrementally, retro-hunt one detection, or
backtest detections over history without writing."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from pyspark.sql import SparkSession

from jobs.detect.backtest import backtest
from jobs.detect.run import retro_hunt, run_detections
from jobs.enrich import Enrichment
from jobs.incidents.store import write_text
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe
from jobs.runtime.times import DurationError, parse_time

# Exit status of a backtest whose alerts differ from gold/alerts (new, gone or changed severity).
BACKTEST_DIFFERS = 3


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``detect [--detection NAME --from T --to T [--write]]``,
    ``detect --backtest --from T --to T [--detections NAME ...]``, plus the common job options."""
    parser = job_parser(
        "detect",
        "Run the detections incrementally, retro-hunt one detection, "
        "or backtest detections over history.",
    )
    parser.add_argument("--detection", help="retro-hunt: the detection name or id to re-run")
    parser.add_argument("--from", dest="start", help="retro-hunt or backtest start (ISO-8601, UTC)")
    parser.add_argument("--to", dest="end", help="retro-hunt or backtest end (ISO-8601, UTC)")
    parser.add_argument("--write", action="store_true", help="retro-hunt: MERGE what it finds")
    parser.add_argument(
        "--backtest",
        action="store_true",
        help="run the detections as configured now over --from/--to, write no alerts, report the "
        f"difference to gold/alerts (exit status {BACKTEST_DIFFERS} when there is one)",
    )
    parser.add_argument(
        "--detections",
        nargs="+",
        default=[],
        metavar="NAME",
        help="backtest: only these detections (names or ids)",
    )
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="evaluate all landed history a detection has not covered, not only "
        "detect.initial_lookback",
    )
    parser.add_argument(
        "--exceptions",
        metavar="PATH",
        help="exceptions file (default: detect.exceptions, conf/exceptions.yml)",
    )
    args = parser.parse_args(list(argv))
    _check_span(parser, args)
    if args.backtest:
        if not (args.start and args.end) or args.detection or args.write:
            parser.error(
                "a backtest needs --from and --to, and takes --detections, not --detection "
                "or --write."
            )
        return args
    if args.detections:
        parser.error("--detections applies to a backtest (--backtest) only.")
    hunt = [args.detection, args.start, args.end]
    if any(hunt) and not all(hunt):
        parser.error("a retro-hunt needs --detection, --from and --to together.")
    if args.write and not args.detection:
        parser.error("--write applies to a retro-hunt (--detection) only.")
    return args


def _check_span(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A usage error (one sentence) unless --from and --to are times, the second later."""
    times = {}
    for option, text in (("--from", args.start), ("--to", args.end)):
        if text is not None:
            try:
                times[option] = parse_time(text)
            except DurationError as exc:
                parser.error(f"{option}: {exc}")
    if len(times) == 2 and times["--to"] <= times["--from"]:
        parser.error(f"--to ({args.end}) must be later than --from ({args.start}).")


def main(argv: Sequence[str]) -> int:
    """``spark-submit.sh detect``. A backtest only reads tables: it runs without the writer
    lock, beside a running pipeline."""
    args = parse_args(argv)
    conf = config_from_args(args)
    if args.backfill:
        conf.setdefault("detect", {})["backfill"] = True
    if args.exceptions:
        conf.setdefault("detect", {})["exceptions"] = args.exceptions
    if args.backtest:
        return run(args, conf)
    with writer_lock(conf, "detect"):
        return run(args, conf)


def run(args: argparse.Namespace, conf: dict[str, Any]) -> int:
    """Incremental detection or the retro-hunt (under the lakehouse's writer lock), or a
    backtest; the run's enrichment is released at the end."""
    spark = build_session(conf, "trailwarden-detect")
    run_id = new_run_id()
    enrichment = Enrichment.of(spark, conf)
    try:
        if args.backtest:
            return _backtest(spark, conf, args, run_id, enrichment)
        if not args.detection:
            print(safe(f"detect {run_id}: {run_detections(spark, conf, run_id, enrichment)}"))
            return 0
        return _retro_hunt(spark, conf, args, run_id, enrichment)
    finally:
        enrichment.release()


def _backtest(spark: SparkSession, conf: dict[str, Any], args: argparse.Namespace, run_id: str,
              enrichment: Enrichment) -> int:
    """Print the backtest's report and write it to ``reports/backtests/<run_id>.txt|.json``."""
    report = backtest(spark, conf, parse_time(args.start), parse_time(args.end), args.detections,
                      run_id, enrichment)
    for line in report.lines():
        print(safe(line))
    base = f"reports/backtests/{run_id}"
    write_text(conf["lakehouse"], f"{base}.json", report.to_json(), conf)
    path = write_text(conf["lakehouse"], f"{base}.txt", "\n".join(report.lines()) + "\n", conf)
    print(safe(f"report: {path} (and .json)"))
    return 1 if report.errors else BACKTEST_DIFFERS if report.differs else 0


def _retro_hunt(spark: SparkSession, conf: dict[str, Any], args: argparse.Namespace,
                run_id: str, enrichment: Enrichment) -> int:
    """Re-run one detection over --from/--to; print (and with --write MERGE) what it finds."""
    result = retro_hunt(spark, conf, args.detection, parse_time(args.start),
                        parse_time(args.end), args.write, run_id, enrichment)
    verb = "wrote" if args.write else "would write"
    print(safe(f"retro-hunt {args.detection}: {verb} {len(result.new)} new and "
               f"{len(result.changed)} changed alerts; {result.unchanged} unchanged"))
    for label, rows in (("new", result.new), ("changed", result.changed)):
        for r in rows:
            print(safe(f"  {label:<8}{r['alert_id']}  {r['severity']:<8} "
                       f"{r['first_seen']:%Y-%m-%d %H:%M}  {r['title']}"))
    return 0
