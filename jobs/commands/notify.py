"""``spark-submit.sh notify``: send what changed in ``gold/incidents`` / ``gold/alerts`` since the
last delivery to every configured destination; ``notify --test NAME`` sends one test message."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from jobs.delivery.run import DELIVERY_FAILED, run_notify, send_test
from jobs.delivery.settings import parse_destinations
from jobs.runtime.cli import config_from_args, job_parser, new_run_id
from jobs.runtime.config import ConfigError
from jobs.runtime.lock import writer_lock
from jobs.runtime.terminal import safe


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = job_parser("notify", "Deliver new and changed incidents or alerts to destinations.")
    parser.add_argument("--test", metavar="NAME", help="send one test message to destination NAME")
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """Validate every destination first, then deliver (or send the test message)."""
    args = parse_args(argv)
    conf = config_from_args(args)
    destinations = parse_destinations(conf, os.environ)
    if args.test:
        found = [d for d in destinations if d.name == args.test]
        if not found:
            raise ConfigError(f"no destination named {args.test!r} in destinations.")
        outcome = send_test(conf, found[0])
        detail = outcome.response if outcome.status == "sent" else outcome.error
        print(safe(f"notify --test {found[0].name}: {outcome.status} ({detail})"))
        return 0 if outcome.status == "sent" else DELIVERY_FAILED
    if not destinations:
        print("notify: no destinations configured (see docs/alerting.md).")
        return 0
    from jobs.runtime.session import build_session

    with writer_lock(conf, "notify"):
        spark = build_session(conf, "trailwarden-notify")
        summary = run_notify(spark, conf, destinations, new_run_id())
    for line in summary.lines():
        print(safe(line))
    return DELIVERY_FAILED if summary.failed else 0
