"""``spark-submit.sh ingest``: land new files, print the accounting."""

from __future__ import annotations

from jobs.ingest.run import run_ingest
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.session import build_session


def main(argv: list[str]) -> int:
    """``spark-submit.sh ingest``: land new files, print the accounting."""
    args = job_parser("ingest", "Ingest new landing files into the Delta lakehouse.").parse_args(argv)
    conf = config_from_args(args)
    spark = build_session(conf, "trailwarden-ingest")
    run_id = new_run_id()
    for a in run_ingest(spark, conf, run_id):
        print(a.line())
    return 0
