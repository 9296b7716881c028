"""Arguments every job shares, and turning them into configuration."""

from __future__ import annotations

import argparse
import secrets
from datetime import UTC, datetime
from typing import Any

from jobs.runtime.config import load_config


def job_parser(job: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every job takes: --env, --set, --landing, --lakehouse."""
    parser = argparse.ArgumentParser(prog=f"spark-submit.sh {job}", description=description)
    parser.add_argument("--env", help="configuration overlay conf/env/ENV.yml")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one configuration value (repeatable)",
    )
    parser.add_argument("--landing", help="landing zone URI (local path or s3a://bucket/prefix)")
    parser.add_argument("--lakehouse", help="lakehouse root URI (local path or s3a://bucket/prefix)")
    return parser


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Load configuration, letting --landing and --lakehouse win over --set."""
    overrides = list(args.overrides)
    if args.landing:
        overrides.append(f"landing={args.landing}")
    if args.lakehouse:
        overrides.append(f"lakehouse={args.lakehouse}")
    return load_config(args.env, overrides)


def new_run_id() -> str:
    """A sortable, unique run id: UTC start time plus random hex."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)
