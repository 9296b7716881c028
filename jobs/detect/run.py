"""The detect job: evaluate every enabled detection over the windows that need it, MERGE the
alerts, then widen the baselines and record the covered windows.

``spark-submit.sh detect`` runs incrementally (the pipeline calls ``run_detections`` after
ingestion); ``detect --detection NAME --from T --to T`` re-runs one detection over history and
reports the alerts it would add or change, writing them only with ``--write``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.alerts.store import changes, merge_alerts
from jobs.detect import baselines as base
from jobs.detect.catalog import (
    Detection,
    DetectionError,
    detection_params,
    is_enabled,
    load_catalog,
    load_settings,
    settings_path,
)
from jobs.detect.evaluate import enable_parameter_binding, evaluate, to_alerts
from jobs.detect.health import (
    alert_counts,
    evaluate_each,
    health_rows,
    rows_per_window,
    write_health,
)
from jobs.detect.state import (
    Covered,
    Pending,
    Snapshot,
    contiguous,
    current_versions,
    is_final,
    late_windows,
    load_state,
    never_evaluated_inputs,
    plan,
    snapshot,
    up_to_date,
)
from jobs.detect.tuning import tune, tuning_for
from jobs.detect.views import named, register_views, source_view
from jobs.enrich import Enrichment
from jobs.enrich.intel import register_intel_views
from jobs.enrich.ip import register_sql_functions
from jobs.lakehouse import ALERTS, BASELINES, DETECTION_RUNS
from jobs.runtime.frames import local_frame, materialize, release, union_all
from jobs.runtime.times import ceil_time, floor_time, parse_duration
from jobs.sources import SOURCES

log = logging.getLogger("trailwarden.detect")



@dataclass
class Summary:
    """What one detect run did."""

    detections: int = 0
    windows: int = 0
    alerts: int = 0
    new: int = 0
    changed: int = 0
    suppressed: int = 0
    dry_run: int = 0
    failed: list[str] = field(default_factory=list)
    expired: str = ""
    by_detection: dict[str, int] = field(default_factory=dict)
    # First runs evaluate only ``detect.initial_lookback``: the landed events they left out.
    skipped_from: datetime | None = None
    skipped_to: datetime | None = None

    def __str__(self) -> str:
        text = (
            f"{self.detections} detections over {self.windows} windows: {self.alerts} alerts "
            f"({self.new} new, {self.changed} changed)"
        )
        if self.suppressed or self.dry_run:
            text += f"; {self.suppressed} suppressed, {self.dry_run} dry-run"
        if self.failed:
            text += f"; FAILED (recorded in gold/detection_health): {', '.join(self.failed)}"
        if self.expired:
            text += f"; {self.expired}"
        if self.skipped_from is not None and self.skipped_to is not None:
            text += (
                f"; NOT evaluated: events from {self.skipped_from:%Y-%m-%d %H:%M} to "
                f"{self.skipped_to:%Y-%m-%d %H:%M} UTC, older than detect.initial_lookback before "
                "the newest event (run `detect --backfill` to evaluate all landed history)"
            )
        return text


@dataclass(frozen=True)
class Settings:
    """The ``detect`` section, parsed."""

    window: timedelta
    lateness: timedelta
    initial_lookback: timedelta
    enrich_asn: bool
    backfill: bool = False

    @classmethod
    def of(cls, conf: dict[str, Any]) -> Settings:
        detect = conf.get("detect", {})
        return cls(
            parse_duration(detect.get("window", "1 hour")),
            parse_duration(detect.get("lateness", "15 minutes")),
            parse_duration(detect.get("initial_lookback", "30 days")),
            bool(detect.get("asn_enrichment", True)),
            bool(detect.get("backfill", False)),
        )


def ensure_gold(spark: SparkSession, lakehouse_root: str) -> dict[str, DeltaTable]:
    """Create the gold tables detection writes unless they exist."""
    return {
        "alerts": ALERTS.ensure(spark, lakehouse_root),
        "runs": DETECTION_RUNS.ensure(spark, lakehouse_root),
        "baselines": BASELINES.ensure(spark, lakehouse_root),
    }


def build_views(
    spark: SparkSession,
    snaps: dict[str, Snapshot],
    start: datetime,
    end: datetime,
    baselines: DataFrame,
    enrichment: Enrichment,
    readers: Sequence[str] = (),
) -> list[DataFrame]:
    """Register the detection views over ``[start, end)`` of the pinned snapshots, each read and
    enriched once; return the frames it materialized (``jobs.runtime.frames.release`` them).

    ``readers`` are the SQL texts that will read the views. A view named in two or more of them
    is materialized (they share one scan, and plan against a scan of the kept rows); a view read
    once is not (that would cost a full copy for one scan). A source's heavy columns (the raw
    record) are left NULL unless a reader names them.
    """
    enable_parameter_binding(spark)
    register_sql_functions(spark)
    register_intel_views(spark, enrichment.intel)
    frames: dict[str, DataFrame] = {}
    kept = []
    for view, snap in snaps.items():
        if snap.version is None:
            continue
        time_col = F.expr(snap.source.time_expression)
        rows = snap.read(spark).where((time_col >= F.lit(start)) & (time_col < F.lit(end)))
        df = source_view(rows, snap.source, enrichment.asn_ranges, readers)
        if sum(named([sql], view) for sql in readers) > 1:
            df = materialize(df)
            kept.append(df)
        frames[view] = df
    register_views(spark, frames, baselines)
    return kept


def _alerts_for(
    spark: SparkSession, detection: Detection, params: dict[str, Any],
    spans: list[tuple[datetime, datetime]], step: timedelta, run_id: str, now: datetime,
) -> DataFrame | None:
    frames = [
        to_alerts(
            evaluate(spark, detection, params, lo, hi), detection, int(step.total_seconds()),
            run_id, now,
        )
        for lo, hi in spans
    ]
    return union_all(frames) if frames else None


def run_detections(
    spark: SparkSession, conf: dict[str, Any], run_id: str, enrichment: Enrichment
) -> Summary:
    """Evaluate every enabled detection incrementally; MERGE alerts; update baselines and runs."""
    settings = Settings.of(conf)
    lakehouse = conf["lakehouse"]
    now = datetime.now(UTC)
    detector_settings = load_settings(settings_path(conf))
    catalog = [d for d in load_catalog() if is_enabled(d, detector_settings)]
    tuning = tuning_for(conf, now)  # exceptions, modes, suppression: checked before any write
    gold = ensure_gold(spark, lakehouse)
    state = load_state(gold["runs"].toDF())
    if not settings.backfill and _inputs_unchanged(spark, lakehouse, catalog, state):
        log.info("detect: no input changed since the last evaluation (%d detections)", len(catalog))
        return Summary()
    snaps = {s.view: snapshot(spark, lakehouse, s) for s in SOURCES}

    late: dict[str, dict[datetime, datetime]] = {}
    for view, snap in snaps.items():
        marks = [
            c.watermarks[view] for d in catalog for c in state.get(d.id, {}).values()
            if view in c.watermarks
        ]
        versions = [c.versions.get(view) for d in catalog for c in state.get(d.id, {}).values()]
        if snap.version is not None and marks and any(v != snap.version for v in versions):
            late[view] = late_windows(spark, snap, min(marks), settings.window)
    # A backfill evaluates every landed window a detection has not covered yet.
    lookback = BACKFILL_LOOKBACK if settings.backfill else settings.initial_lookback
    pending = {
        d.id: plan(d.source_tables, snaps, state.get(d.id, {}), late, settings.window, lookback)
        for d in catalog
    }
    todo = [d for d in catalog if pending[d.id]]
    summary = Summary(detections=len(todo), windows=sum(len(p) for p in pending.values()),
                      expired=tuning.expired_note())
    summary.skipped_from, summary.skipped_to = _skipped(
        [snaps[v] for d in todo if not state.get(d.id) for v in d.source_tables], lookback
    )
    if summary.skipped_from is not None:
        log.warning("detect: first run evaluates only %s before the newest event; events since %s "
                    "are not evaluated (detect --backfill evaluates them)",
                    lookback, summary.skipped_from)
    if not todo:
        log.info("detect: nothing to evaluate (%d detections up to date)", len(catalog))
        idle = health_rows(catalog, {}, {}, {}, {}, tuning.modes, run_id, now)
        write_health(spark, lakehouse, idle)
        return summary

    span_start = min(pending[d.id][0].start - d.lookback for d in todo)
    span_end = max(pending[d.id][-1].end for d in todo)
    readers = [d.sql for d in todo] + list(base.BASELINE_SOURCES.values())
    kept = build_views(
        spark, snaps, span_start, span_end, gold["baselines"].toDF(),
        enrichment.with_asn(settings.enrich_asn), readers
    )
    try:
        def evaluate_one(d: Detection) -> DataFrame | None:
            spans = contiguous(pending[d.id])
            log.info("detect: %s over %d windows in %d ranges",
                     d.name, len(pending[d.id]), len(spans))
            params = detection_params(d, detector_settings, conf)
            return _alerts_for(spark, d, params, spans, settings.window, run_id, now)

        parts, outcomes = evaluate_each(todo, evaluate_one)
        kept.extend(parts)
        summary.failed = [d.name for d in todo if outcomes[d.id].error]
        raw = union_all(parts) if parts else local_frame(spark, [], ALERTS.schema)
        per_window = raw.groupBy("detection_id", "window_start").agg(F.count("*").alias("n"))
        counts = {(r["detection_id"], r["window_start"]): r["n"] for r in per_window.collect()}
        tuned = tune(spark, raw, gold["alerts"].toDF(), tuning, enrichment.asn_ranges, now, run_id)
        alerts = materialize(tuned)
        kept.append(alerts)
        changed = materialize(changes(gold["alerts"].toDF(), alerts))
        kept.append(changed)
        kinds = alert_counts(changed)
        summary.new = sum(n for (_, k), n in kinds.items() if k == "new")
        summary.changed = sum(n for (_, k), n in kinds.items() if k == "updated")
        summary.suppressed = sum(n for (_, k), n in kinds.items() if k == "suppressed")
        summary.dry_run = sum(n for (_, k), n in kinds.items() if k == "dry_run")
        summary.alerts = sum(counts.values())
        if summary.new or summary.changed:
            merge_alerts(gold["alerts"], changed)
        # Baselines learn from the evaluated span only after its detections ran.
        covered_start = min(pending[d.id][0].start for d in todo)
        base.merge_baselines(
            gold["baselines"], base.observations(spark, covered_start, span_end), run_id, now
        )
        # Health before the covered windows: a run killed between the two evaluates its windows
        # again (and writes health again) rather than leaving evaluated windows without health.
        rows = rows_per_window(spark, snaps, covered_start, span_end, settings.window)
        write_health(spark, lakehouse, health_rows(
            catalog, pending, rows, outcomes, kinds, tuning.modes, run_id, now))
        ran = [d for d in todo if not outcomes[d.id].error]
        _record_runs(spark, lakehouse, ran, pending, snaps, counts, settings, run_id, now)
        for d in todo:
            summary.by_detection[d.name] = sum(n for (i, _), n in counts.items() if i == d.id)
    finally:
        for df in kept:
            release(df)
    log.info("detect: %s", summary)
    return summary


BACKFILL_LOOKBACK = timedelta(days=36500)


def _inputs_unchanged(
    spark: SparkSession, lakehouse: str, catalog: list[Detection],
    state: dict[str, dict[datetime, Covered]],
) -> bool:
    """Whether ``state.up_to_date`` holds: read from the tables' logs (and, for detections never
    evaluated, whether their inputs hold a row), before any scan of the silver rows."""
    inputs = [(d.id, d.source_tables) for d in catalog]
    versions = current_versions(spark, lakehouse, SOURCES)
    views = {s.view: s for s in SOURCES}
    empty = {
        v for v in never_evaluated_inputs(inputs, state)
        if v in versions and views[v].table.read(spark, lakehouse).isEmpty()
    }
    return up_to_date(inputs, state, versions, empty)


def _skipped(snaps: list[Snapshot], lookback: timedelta) -> tuple[datetime | None, datetime | None]:
    """The landed events a first run leaves out: ``[oldest, newest - lookback)``, or Nones."""
    live = [
        s for s in snaps
        if s.version is not None and s.min_time is not None and s.max_time is not None
    ]
    if not live:
        return None, None
    oldest = min(s.min_time for s in live if s.min_time is not None)
    cutoff = max(s.max_time for s in live if s.max_time is not None) - lookback
    return (oldest, cutoff) if oldest < cutoff else (None, None)


def _record_runs(
    spark: SparkSession, lakehouse_root: str, todo: list[Detection],
    pending: dict[str, list[Pending]],
    snaps: dict[str, Snapshot], counts: dict[tuple[str, datetime], int], settings: Settings,
    run_id: str, now: datetime,
) -> None:
    rows = []
    for d in todo:
        inputs = [snaps[s] for s in d.source_tables if snaps[s].version is not None]
        versions = {s.view: int(s.version) for s in inputs if s.version is not None}
        marks = {s.view: s.watermark for s in inputs if s.watermark is not None}
        for w in pending[d.id]:
            key = (d.id, w.start.replace(tzinfo=None))
            rows.append((
                run_id, "incremental", d.id, d.name, d.fingerprint({}), w.start, w.end,
                is_final(w.end, inputs, settings.lateness), w.reason, versions, marks,
                int(counts.get(key, 0)), now,
            ))
    DETECTION_RUNS.append(local_frame(spark, rows, DETECTION_RUNS.schema), lakehouse_root)


@dataclass(frozen=True)
class HuntResult:
    """A retro-hunt: alerts it would add or change, and how many it found unchanged."""

    new: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    unchanged: int


def retro_hunt(
    spark: SparkSession, conf: dict[str, Any], name: str, start: datetime, end: datetime,
    write: bool, run_id: str, enrichment: Enrichment,
) -> HuntResult:
    """Re-run detection ``name`` over ``[start, end)`` (widened to whole windows)."""
    settings = Settings.of(conf)
    matches = [d for d in load_catalog() if d.name == name or d.id == name]
    if not matches:
        raise DetectionError(f"no detection named {name!r}; see docs/detections.md for the list.")
    detection = matches[0]
    lo, hi = floor_time(start, settings.window), ceil_time(end, settings.window)
    if hi <= lo:
        raise DetectionError("--to must be later than --from.")
    gold = ensure_gold(spark, conf["lakehouse"])
    snaps = {s.view: snapshot(spark, conf["lakehouse"], s) for s in SOURCES}
    now = datetime.now(UTC)
    kept = build_views(
        spark, snaps, lo - detection.lookback, hi, gold["baselines"].toDF(),
        enrichment.with_asn(settings.enrich_asn), [detection.sql],
    )
    try:
        params = detection_params(detection, load_settings(settings_path(conf)), conf)
        alerts = _alerts_for(spark, detection, params, [(lo, hi)], settings.window, run_id, now)
        assert alerts is not None
        alerts = materialize(tune(spark, alerts, gold["alerts"].toDF(), tuning_for(conf, now),
                                  enrichment.asn_ranges, now, run_id))
        kept.append(alerts)
        found = alerts.count()
        delta = materialize(changes(gold["alerts"].toDF(), alerts))
        kept.append(delta)
        rows = [r.asDict(recursive=True) for r in delta.orderBy("first_seen", "alert_id").collect()]
        if write and rows:
            merge_alerts(gold["alerts"], delta)
    finally:
        for df in kept:
            release(df)
    new = [r for r in rows if r["change"] == "new"]
    changed = [r for r in rows if r["change"] == "changed"]
    return HuntResult(new, changed, found - len(rows))
