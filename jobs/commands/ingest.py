"""``spark-submit.sh ingest``: land new files, print the accounting."""

from __future__ import annotations

from jobs.ingest.run import run_ingest
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.lock import writer_lock
from jobs.runtime.session import build_session
from jobs.runtime.terminal import safe


def main(argv: list[str]) -> int:
    """``spark-submit.sh ingest``: land new files, print the accounting."""
    parser = job_parser("ingest", "Ingest new landing files into the Delta lakehouse.")
    args = parser.parse_args(argv)
    conf = config_from_args(args)
    with writer_lock(conf, "ingest"):
        spark = build_session(conf, "trailwarden-ingest")
        for a in run_ingest(spark, conf, new_run_id()):
            print(safe(a.line()))
    return 0
