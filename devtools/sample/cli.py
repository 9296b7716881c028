"""A deterministic sample AWS landing zone: ``python -m devtools.sample.cli --out DIR [--scale S]``.

Writes one UTC day of CloudTrail (with digests), VPC Flow Logs, Route 53 Resolver query logs and
GuardDuty exports in the S3 delivery layout, with a root-key crypto-mining attack injected (ground
truth: ``ATTACK``).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from devtools.sample.build import DEFAULT_DAY, check_hours, generate, write_remediation
from devtools.sample.ground_truth import ATTACK, Attack
from devtools.sample.output import Count, Summary

__all__ = [
    "ATTACK",
    "DEFAULT_DAY",
    "Attack",
    "Count",
    "Summary",
    "generate",
    "hour_range",
    "main",
    "parse_args",
    "write_remediation",
]


def hour_range(text: str) -> tuple[int, int]:
    """``"14"`` -> ``(14, 14)``, ``"13-15"`` -> ``(13, 15)``: UTC delivery hours, inclusive."""
    first, _, last = text.partition("-")
    try:
        return check_hours((int(first), int(last or first)))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a range of UTC hours such as 14 or 13-15"
        ) from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m devtools.sample", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="landing-zone root to write under")
    parser.add_argument(
        "--scale",
        type=float,
        default=0.0,
        help="0: demo sample (default); 1: ~1M CloudTrail events, ~5M flow records",
    )
    parser.add_argument("--day", type=date.fromisoformat, default=DEFAULT_DAY, help="UTC day (ISO)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--hours",
        type=hour_range,
        help="only the files delivered in these UTC hours, e.g. 13-15 (default: the whole day)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes (accounts run in parallel)"
    )
    parser.add_argument(
        "--remediation",
        action="store_true",
        help="write only the responder's follow-up CloudTrail files (14:39-14:45 UTC)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, print the per-source counts and the time taken."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = parse_args(argv)
    began = time.perf_counter()
    if args.remediation:
        summary = write_remediation(args.out, day=args.day, seed=args.seed)
    else:
        summary = generate(
            args.out,
            scale=args.scale,
            day=args.day,
            seed=args.seed,
            workers=args.workers,
            hours=args.hours,
        )
    for line in summary.lines():
        print(line)
    print(f"wrote {args.out} in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
