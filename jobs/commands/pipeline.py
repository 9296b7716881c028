"""The pipeline job: ingest new landing files, run the detections over what changed, then group the
alerts into incidents (scope, remediation plan, fix tracking, reports)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

from jobs.delivery.run import DELIVERY_FAILED, run_notify
from jobs.delivery.settings import parse_destinations
from jobs.detect.run import run_detections
from jobs.detect.tuning import tuning_for
from jobs.enrich import Enrichment
from jobs.incidents.run import run_incidents
from jobs.ingest.run import run_ingest
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.session import build_session

log = logging.getLogger("trailwarden.pipeline")


def main(argv: list[str]) -> int:
    """``spark-submit.sh pipeline``: ingest, detect, incidents, notify; print what was found.
    Exit status 3 (``DELIVERY_FAILED``) when the tables were written but a destination could
    not be reached."""
    parser = job_parser("pipeline", "Ingest new landing files, then run the detections.")
    parser.add_argument("--no-detect", action="store_true", help="ingest only")
    parser.add_argument(
        "--exceptions", metavar="PATH", help="exceptions file (default conf/exceptions.yml)"
    )
    args = parser.parse_args(argv)
    conf = config_from_args(args)
    if args.exceptions:
        conf.setdefault("detect", {})["exceptions"] = args.exceptions
    destinations = parse_destinations(conf, os.environ)  # a bad destination fails before any work
    tuning_for(conf, datetime.now(UTC))  # so does a malformed exceptions file
    spark = build_session(conf, "trailwarden-pipeline")
    run_id = new_run_id()
    print(f"run {run_id}: landing {conf['landing']} -> lakehouse {conf['lakehouse']}")
    for accounting in run_ingest(spark, conf, run_id):
        print("  " + accounting.line())
    if args.no_detect or not conf.get("detect", {}).get("enabled", True):
        return 0
    enrichment = Enrichment.of(spark, conf)
    try:
        print(f"  detect: {run_detections(spark, conf, run_id, enrichment)}")
        if conf.get("incidents", {}).get("enabled", True):
            for line in run_incidents(spark, conf, run_id, enrichment).lines():
                print("  " + line)
        if destinations:
            delivered = run_notify(spark, conf, destinations, run_id)
            for line in delivered.lines():
                print("  " + line)
            if delivered.failed:
                return DELIVERY_FAILED
    finally:
        enrichment.release()
    return 0
