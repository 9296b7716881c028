"""Rule health: each detection evaluated on its own (a failure is recorded and the others still
run), timed, and summed up as one ``gold/detection_health`` row per detection and run.

In: the run's planned windows, the rows each source view holds per window, the alerts the run
writes (with ``change`` and ``status``). Out: ``DETECTION_HEALTH`` rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.detect.catalog import Detection
from jobs.detect.state import Pending, Snapshot
from jobs.lakehouse import DETECTION_HEALTH
from jobs.runtime.frames import local_frame, materialize
from jobs.runtime.times import utc

log = logging.getLogger("trailwarden.detect")


@dataclass
class Outcome:
    """How evaluating one detection went."""

    seconds: float = 0.0
    error: str | None = None


def one_sentence(exc: BaseException) -> str:
    """The first line of an error's message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def evaluate_each(
    todo: Sequence[Detection], evaluate: Callable[[Detection], DataFrame | None]
) -> tuple[list[DataFrame], dict[str, Outcome]]:
    """Compute each detection's alerts on its own (``evaluate`` builds the frame); return the
    computed frames (``jobs.runtime.frames.release`` them) and each detection id's outcome."""
    frames: list[DataFrame] = []
    outcomes: dict[str, Outcome] = {}
    for d in todo:
        started = time.perf_counter()
        try:
            frame = evaluate(d)
            if frame is not None:
                frames.append(materialize(frame))
            outcomes[d.id] = Outcome(time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - one failing detection must not stop the others
            outcomes[d.id] = Outcome(time.perf_counter() - started, one_sentence(exc))
            log.error("detect: %s failed and was skipped: %s", d.name, outcomes[d.id].error)
    return frames, outcomes


def rows_per_window(
    spark: SparkSession,
    snaps: Mapping[str, Snapshot],
    start: datetime,
    end: datetime,
    step: timedelta,
) -> dict[tuple[str, datetime], int]:
    """(view, window start) -> rows of the pinned source table in each window of
    ``[start, end)``."""
    seconds = int(step.total_seconds())
    out: dict[tuple[str, datetime], int] = {}
    for view, snap in snaps.items():
        if snap.version is None:
            continue
        t = F.expr(snap.source.time_expression)
        rows = (
            snap.read(spark)
            .where((t >= F.lit(start)) & (t < F.lit(end)))
            .groupBy(F.timestamp_seconds(F.floor(F.unix_seconds(t) / seconds) * seconds).alias("w"))
            .count()
            .collect()
        )
        out.update({(view, utc(r["w"])): int(r["count"]) for r in rows if r["w"] is not None})
    return out


def alert_counts(changed: DataFrame) -> dict[tuple[str, str], int]:
    """(detection id, kind) -> alerts the run writes: ``new``, ``updated``, ``suppressed`` and
    ``dry_run`` (by the status the run gave them)."""
    rows = changed.groupBy("detection_id", "change", "status").count().collect()
    out: dict[tuple[str, str], int] = {}
    for r in rows:
        kind = "new" if r["change"] == "new" else "updated"
        out[(r["detection_id"], kind)] = out.get((r["detection_id"], kind), 0) + int(r["count"])
        if r["status"] in ("suppressed", "dry_run"):
            key = (r["detection_id"], r["status"])
            out[key] = out.get(key, 0) + int(r["count"])
    return out


def health_rows(
    catalog: Sequence[Detection],
    pending: Mapping[str, Sequence[Pending]],
    rows: Mapping[tuple[str, datetime], int],
    outcomes: Mapping[str, Outcome],
    counts: Mapping[tuple[str, str], int],
    modes: Mapping[str, str],
    run_id: str,
    now: datetime,
) -> list[dict[str, object]]:
    """One ``gold/detection_health`` row per detection of ``catalog``."""
    out = []
    for d in catalog:
        windows = pending.get(d.id, ())
        outcome = outcomes.get(d.id, Outcome())
        out.append(
            {
                "run_id": run_id,
                "detection_id": d.id,
                "detection_name": d.name,
                "mode": modes.get(d.id, "live"),
                "windows_evaluated": sum(1 for w in windows if w.reason != "late"),
                "windows_late": sum(1 for w in windows if w.reason == "late"),
                "rows_read": sum(
                    rows.get((v, w.start), 0) for v in d.source_tables for w in windows
                ),
                "run_seconds": round(outcome.seconds, 3),
                "alerts_new": counts.get((d.id, "new"), 0),
                "alerts_updated": counts.get((d.id, "updated"), 0),
                "alerts_suppressed": counts.get((d.id, "suppressed"), 0),
                "alerts_dry_run": counts.get((d.id, "dry_run"), 0),
                "error": outcome.error,
                "evaluated_at": now,
            }
        )
    return out


def write_health(spark: SparkSession, lakehouse: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Append the run's rows to ``gold/detection_health`` (unique per run by construction)."""
    DETECTION_HEALTH.ensure(spark, lakehouse)
    if rows:
        DETECTION_HEALTH.append(local_frame(spark, rows, DETECTION_HEALTH.schema), lakehouse)
