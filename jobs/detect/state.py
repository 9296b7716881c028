"""What each detection has covered: input snapshots, ``gold/detection_runs`` and window planning.

A window is ``[start, start + detect.window)`` aligned to the epoch. A detection evaluates a
window when it has never covered it, when its last evaluation was provisional (the window ended
less than ``detect.lateness`` before the newest event) and an input table has a newer Delta
version since, or when rows ingested after its last evaluation fall into it (late data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from jobs.runtime.times import floor_time, utc
from jobs.sources import LogSource


@dataclass(frozen=True)
class Snapshot:
    """One source's silver table pinned at a Delta version, with its event-time span and ingest
    watermark."""

    source: LogSource
    path: str
    version: int | None = None
    min_time: datetime | None = None
    max_time: datetime | None = None
    watermark: datetime | None = None

    @property
    def view(self) -> str:
        """The detection view the table is read as (the key of runs' versions and watermarks)."""
        return self.source.view

    def read(self, spark: SparkSession) -> DataFrame:
        """The table as of the pinned version."""
        return spark.read.format("delta").option("versionAsOf", self.version).load(self.path)


@dataclass
class Covered:
    """The latest evaluation of one detection window."""

    is_final: bool
    versions: dict[str, int] = field(default_factory=dict)
    watermarks: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    """A window to evaluate and why: ``new``, ``provisional`` or ``late``."""

    start: datetime
    end: datetime
    reason: str


def snapshot(spark: SparkSession, lakehouse: str, source: LogSource) -> Snapshot:
    """Pin ``source``'s table at its current version and measure it (an absent table is empty)."""
    path = source.table.path(lakehouse)
    if not DeltaTable.isDeltaTable(spark, path):
        return Snapshot(source, path)
    version = int(DeltaTable.forPath(spark, path).history(1).select("version").first()[0])
    pinned = Snapshot(source, path, version)
    time_col = F.expr(source.time_expression)
    stats = pinned.read(spark).select(
        F.min(time_col).alias("lo"), F.max(time_col).alias("hi"), F.max("ingested_at").alias("wm"),
    ).first()
    return Snapshot(source, path, version, _aware(stats["lo"]), _aware(stats["hi"]),
                    _aware(stats["wm"]))


def current_versions(
    spark: SparkSession, lakehouse: str, sources: Sequence[LogSource]
) -> dict[str, int]:
    """View name -> current Delta version of its silver table (absent tables left out): one
    read of each table's log, no scan of its rows."""
    out = {}
    for source in sources:
        path = source.table.path(lakehouse)
        if DeltaTable.isDeltaTable(spark, path):
            out[source.view] = int(DeltaTable.forPath(spark, path).history(1).first()["version"])
    return out


def never_evaluated_inputs(
    detections: Sequence[tuple[str, tuple[str, ...]]], state: dict[str, dict[datetime, Covered]]
) -> set[str]:
    """The input views of the detections ``state`` has no evaluation of."""
    return {v for detection_id, views in detections if not state.get(detection_id) for v in views}


def up_to_date(
    detections: Sequence[tuple[str, tuple[str, ...]]],
    state: dict[str, dict[datetime, Covered]],
    versions: dict[str, int],
    empty: set[str],
) -> bool:
    """True when no detection ``(id, input views)`` can have a window to evaluate: its newest
    evaluation read the current version of every input that exists (a run over those versions
    covered every window up to their newest event and left no provisional window behind, and
    no row can have arrived late since), or it was never evaluated and every input it has is
    ``empty`` (no rows: nothing to evaluate)."""
    for detection_id, views in detections:
        covered = state.get(detection_id)
        if not covered:
            if any(view in versions and view not in empty for view in views):
                return False
            continue
        for view in views:
            newest = max(c.versions.get(view, -1) for c in covered.values())
            if view in versions and newest != versions[view]:
                return False
    return True


def _aware(ts: datetime | None) -> datetime | None:
    return utc(ts) if ts is not None else None


def load_state(runs: DataFrame) -> dict[str, dict[datetime, Covered]]:
    """Detection id -> window start -> its latest evaluation (incremental runs only)."""
    latest = (
        runs.where(F.col("mode") == "incremental")
        .withColumn(
            "rank",
            F.row_number().over(
                Window.partitionBy("detection_id", "window_start")
                .orderBy(F.col("evaluated_at").desc())
            ),
        )
        .where("rank = 1")
        .select("detection_id", "window_start", "is_final", "input_versions", "input_watermarks")
    )
    state: dict[str, dict[datetime, Covered]] = {}
    for row in latest.collect():
        state.setdefault(row["detection_id"], {})[utc(row["window_start"])] = Covered(
            bool(row["is_final"]),
            dict(row["input_versions"] or {}),
            {k: utc(v) for k, v in (row["input_watermarks"] or {}).items() if v is not None},
        )
    return state


def late_windows(
    spark: SparkSession, snap: Snapshot, since: datetime, step: timedelta
) -> dict[datetime, datetime]:
    """Window start -> newest ``ingested_at`` among rows ingested after ``since``."""
    seconds = int(step.total_seconds())
    time_col = F.expr(snap.source.time_expression)
    rows = (
        snap.read(spark)
        .where(F.col("ingested_at") > F.lit(since))
        .select(
            F.timestamp_seconds(F.floor(F.unix_seconds(time_col) / seconds) * seconds).alias("w"),
            "ingested_at",
        )
        .where(F.col("w").isNotNull())
        .groupBy("w")
        .agg(F.max("ingested_at").alias("wm"))
        .collect()
    )
    return {utc(r["w"]): utc(r["wm"]) for r in rows}


def plan(
    sources: tuple[str, ...],
    snaps: dict[str, Snapshot],
    covered: dict[datetime, Covered],
    late: dict[str, dict[datetime, datetime]],
    step: timedelta,
    initial_lookback: timedelta,
) -> list[Pending]:
    """The windows one detection (reading ``sources``) must evaluate now, oldest first."""
    live = [
        snaps[s] for s in sources
        if snaps[s].version is not None and snaps[s].max_time is not None
    ]
    if not live:
        return []
    data_end = max(s.max_time for s in live if s.max_time)
    data_start = max(min(s.min_time for s in live if s.min_time), data_end - initial_lookback)
    pending: dict[datetime, str] = {}
    start = floor_time(data_start, step)
    while start <= data_end:
        seen = covered.get(start)
        if seen is None:
            pending[start] = "new"
        elif not seen.is_final and any(seen.versions.get(s.view) != s.version for s in live):
            pending[start] = "provisional"
        start += step
    for snap in live:
        marks = [c.watermarks[snap.view] for c in covered.values() if snap.view in c.watermarks]
        hwm = max(marks) if marks else None
        for window, newest in late.get(snap.view, {}).items():
            if hwm is None or newest > hwm:
                pending.setdefault(window, "late")
    return [Pending(w, w + step, pending[w]) for w in sorted(pending)]


def contiguous(windows: list[Pending]) -> list[tuple[datetime, datetime]]:
    """Merge adjacent windows into ``[start, end)`` ranges."""
    ranges: list[tuple[datetime, datetime]] = []
    for w in windows:
        if ranges and ranges[-1][1] == w.start:
            ranges[-1] = (ranges[-1][0], w.end)
        else:
            ranges.append((w.start, w.end))
    return ranges


def is_final(window_end: datetime, snaps: list[Snapshot], lateness: timedelta) -> bool:
    """A window is final once the newest event of its inputs is ``lateness`` past its end."""
    ends = [s.max_time for s in snaps if s.max_time is not None]
    return bool(ends) and window_end <= max(ends) - lateness
