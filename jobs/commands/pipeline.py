"""The pipeline job: ingest new landing files, run the detections over what changed, then group the
alerts into incidents (scope, remediation plan, fix tracking, reports) and notify.

It holds the lakehouse's writer lock (``jobs.runtime.lock``) throughout; every printed line
passes through ``jobs.runtime.terminal.safe``: incident titles and delivery errors come from logs
and remote answers."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from jobs.delivery.run import DELIVERY_FAILED, run_notify
from jobs.delivery.settings import Destination, parse_destinations
from jobs.detect.run import run_detections
from jobs.detect.tuning import tuning_for
from jobs.enrich import Enrichment
from jobs.incidents.run import run_incidents
from jobs.ingest.run import run_ingest
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.every import run_every, stop_on_signals
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe
from jobs.runtime.times import parse_duration

log = logging.getLogger("trailwarden.pipeline")


def main(argv: list[str]) -> int:
    """``spark-submit.sh pipeline``: ingest, detect, incidents, notify; print what was found.
    Exit status 3 (``DELIVERY_FAILED``) when the tables were written but a destination could
    not be reached. With ``--every 5m`` the cycle repeats in this process until SIGTERM."""
    parser = job_parser("pipeline", "Ingest new landing files, then run the detections.")
    parser.add_argument("--no-detect", action="store_true", help="ingest only")
    parser.add_argument(
        "--exceptions", metavar="PATH", help="exceptions file (default conf/exceptions.yml)"
    )
    parser.add_argument(
        "--every", type=parse_duration, metavar="DURATION",
        help="keep running: one cycle every DURATION (e.g. 5m) in one warm process, until "
             "SIGTERM or SIGINT; a failed cycle is logged and the next one retries",
    )
    args = parser.parse_args(argv)
    conf = config_from_args(args)
    if args.exceptions:
        conf.setdefault("detect", {})["exceptions"] = args.exceptions
    destinations = parse_destinations(conf, os.environ)  # a bad destination fails before any work
    tuning_for(conf, datetime.now(UTC))  # so does a malformed exceptions file
    with writer_lock(conf, "pipeline"):
        return run(conf, destinations, args.no_detect, args.every)


def run(
    conf: dict[str, Any], destinations: list[Destination], no_detect: bool,
    every: float | None,
) -> int:
    """The pipeline's steps (once, or a cycle every ``every`` seconds), under the lakehouse's
    writer lock."""
    spark = build_session(conf, "trailwarden-pipeline")
    if every is None:
        return _cycle(spark, conf, destinations, no_detect, None)
    enrichment = None if no_detect else Enrichment.of(spark, conf)
    try:
        with stop_on_signals() as stop:
            runs, failed = run_every(
                every,
                lambda _: _cycle(spark, conf, destinations, no_detect, enrichment),
                stop,
            )
    finally:
        if enrichment is not None:
            enrichment.release()
    print(f"stopped after {runs} cycles ({failed} failed)")
    return 0


def _cycle(
    spark: SparkSession, conf: dict[str, Any], destinations: list[Destination], no_detect: bool,
    enrichment: Enrichment | None,
) -> int:
    """One run: ingest, then (unless ``no_detect``) detect, incidents and notify. A warm loop
    passes its ``enrichment``; a single run builds and releases its own."""
    run_id = new_run_id()
    print(safe(f"run {run_id}: landing {conf['landing']} -> lakehouse {conf['lakehouse']}"),
          flush=True)
    for accounting in run_ingest(spark, conf, run_id):
        print(safe("  " + accounting.line()))
    if no_detect or not conf.get("detect", {}).get("enabled", True):
        return 0
    own = enrichment is None
    enrichment = Enrichment.of(spark, conf) if own else enrichment
    assert enrichment is not None
    try:
        print(safe(f"  detect: {run_detections(spark, conf, run_id, enrichment)}"), flush=True)
        if conf.get("incidents", {}).get("enabled", True):
            for line in run_incidents(spark, conf, run_id, enrichment).lines():
                print(safe("  " + line))
        if destinations:
            delivered = run_notify(spark, conf, destinations, run_id)
            for line in delivered.lines():
                print(safe("  " + line))
            if delivered.failed:
                return DELIVERY_FAILED
    finally:
        if own:
            enrichment.release()
    return 0
