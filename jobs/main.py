"""Entry point for every job: ``spark-submit.sh <job> [options]`` runs ``jobs.main <job> ...``,
which calls ``jobs.commands.<job>.main(options)``.

Reading commands and every ``--help`` run as plain Python, without starting a JVM:
``spark-submit.sh`` asks ``python -m jobs.main --needs-spark <job> [options]`` (``needs_spark``),
and only the jobs that need Spark go through spark-submit.

Errors reach the user as one sentence; ``TRAILWARDEN_DEBUG=1`` shows the traceback too.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import sys
import traceback

JOBS = {  # job -> (module under jobs.commands, what it does)
    "pipeline": "ingest new files, run the detections, group alerts into incidents, notify",
    "ingest": "ingest new landing files into the Delta tables",
    "detect": "run the detections incrementally (or a retro-hunt)",
    "incidents": "group alerts into incidents; list, show, ack or resolve one",
    "report": "write incident reports and the response metrics",
    "remediate": "print an incident's fix plan, or --execute it",
    "notify": "send new and changed incidents or alerts to the configured destinations",
    "alerts": "list alerts at a terminal",
    "rules": "each detection's health: last run, alert rates, suppressed share, errors",
    "sql": "Spark SQL prompt with the lakehouse tables as views",
}
# Jobs that only read tables (delta-rs, no JVM): job -> its read-only subcommands, or None when
# every invocation only reads. The command module's parser picks the subcommand.
WITHOUT_SPARK: dict[str, frozenset[str] | None] = {
    "alerts": None,
    "rules": None,
    "incidents": frozenset({"list", "show"}),
}


def usage() -> str:
    lines = ["usage: spark-submit.sh <job> [options]", "", "jobs:"]
    lines += [f"  {name:<10} {help_}" for name, help_ in JOBS.items()]
    lines.append(
        f"  {'sample':<10} write the deterministic sample landing zone (plain Python, no JVM)"
    )
    return "\n".join(lines)


def one_sentence(exc: BaseException) -> str:
    """The first line of an exception's message, prefixed by its type for unexpected ones."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if isinstance(exc, (ValueError, RuntimeError, FileNotFoundError)) else (
        f"{type(exc).__name__}: {text}"
    )


def needs_spark(argv: list[str]) -> bool:
    """Whether ``<job> [options]`` has to run under spark-submit: False for every ``--help``,
    unknown jobs, the reading commands (``WITHOUT_SPARK``) and their usage errors, which plain
    Python prints."""
    if not argv or argv[0] not in JOBS or "-h" in argv or "--help" in argv:
        return False
    name, rest = argv[0], argv[1:]
    if name not in WITHOUT_SPARK:
        return True
    subcommands = WITHOUT_SPARK[name]
    if subcommands is None:
        return False
    module = importlib.import_module(f"jobs.commands.{name}")
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the plain run reports usage errors
            return module.parse_args(rest).command not in subcommands
    except SystemExit:  # a usage error: argparse says so without Spark
        return False


def main(argv: list[str]) -> int:
    """Dispatch to the job named by ``argv[0]``; ``--needs-spark <job> ...`` exits 0 when that
    invocation needs spark-submit and 1 when it runs as plain Python."""
    if argv[:1] == ["--needs-spark"]:
        return 0 if needs_spark(argv[1:]) else 1
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in JOBS:
        print(f"trailwarden: unknown job {name!r}.\n{usage()}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=os.environ.get("TRAILWARDEN_LOG", "INFO"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("great_expectations", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        module = importlib.import_module(f"jobs.commands.{name}")
        return int(module.main(rest))
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)
    except Exception as exc:  # noqa: BLE001 - the edge: one sentence, not a stack trace
        if os.environ.get("TRAILWARDEN_DEBUG"):
            traceback.print_exc()
        print(f"trailwarden {name}: {one_sentence(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
