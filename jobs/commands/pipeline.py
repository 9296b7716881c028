"""The pipeline job: ingest new landing files, run the detections over what changed, then group the
alerts into incidents (scope, remediation plan, fix tracking, reports) and notify.

It holds the lakehouse's writer lock (``jobs.runtime.lock``) throughout; every printed line
passes through ``jobs.runtime.terminal.safe``: incident titles and delivery errors come from logs
and remote answers."""

from __future__ import annotations

import logging
import os
from typing import Any

from jobs.delivery.run import DELIVERY_FAILED, run_notify
from jobs.delivery.settings import Destination, parse_destinations
from jobs.detect.run import run_detections
from jobs.enrich import Enrichment
from jobs.incidents.run import run_incidents
from jobs.ingest.run import run_ingest
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe

log = logging.getLogger("trailwarden.pipeline")


def main(argv: list[str]) -> int:
    """``spark-submit.sh pipeline``: ingest, detect, incidents, notify; print what was found.
    Exit status 3 (``DELIVERY_FAILED``) when the tables were written but a destination could
    not be reached."""
    parser = job_parser("pipeline", "Ingest new landing files, then run the detections.")
    parser.add_argument("--no-detect", action="store_true", help="ingest only")
    args = parser.parse_args(argv)
    conf = config_from_args(args)
    destinations = parse_destinations(conf, os.environ)  # a bad destination fails before any work
    with writer_lock(conf, "pipeline"):
        return run(conf, destinations, args.no_detect)


def run(conf: dict[str, Any], destinations: list[Destination], no_detect: bool) -> int:
    """The pipeline's steps, under the lakehouse's writer lock."""
    spark = build_session(conf, "trailwarden-pipeline")
    run_id = new_run_id()
    print(safe(f"run {run_id}: landing {conf['landing']} -> lakehouse {conf['lakehouse']}"))
    for accounting in run_ingest(spark, conf, run_id):
        print(safe("  " + accounting.line()))
    if no_detect or not conf.get("detect", {}).get("enabled", True):
        return 0
    enrichment = Enrichment.of(spark, conf)
    try:
        print(safe(f"  detect: {run_detections(spark, conf, run_id, enrichment)}"))
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
        enrichment.release()
    return 0
