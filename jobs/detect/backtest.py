"""Backtests: run detections as they are now (their SQL files, ``conf/detections.yml``, the
exceptions) over a span of history without writing anything, and compare with ``gold/alerts``.

``backtest`` gathers (Spark); ``compare`` and ``BacktestReport`` decide and render (plain Python).
The report: alerts per day and status, the most frequent entities, and the difference to the
alerts already written for the same detections and windows: new, gone, changed severity.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.detect.catalog import (
    DetectionError,
    detection_params,
    is_enabled,
    load_catalog,
    load_settings,
    settings_path,
)
from jobs.detect.evaluate import evaluate, to_alerts
from jobs.detect.health import evaluate_each
from jobs.detect.run import Settings, build_views
from jobs.detect.state import snapshot
from jobs.detect.tuning import tune, tuning_for
from jobs.enrich import Enrichment
from jobs.lakehouse import ALERTS, BASELINES
from jobs.runtime.frames import local_frame, release, union_all
from jobs.runtime.times import ceil_time, floor_time
from jobs.sources import SOURCES

TOP_ENTITIES = 10
COMPARED = (
    "alert_id",
    "detection_name",
    "severity",
    "status",
    "window_start",
    "first_seen",
    "title",
)


@dataclass
class BacktestReport:
    """What a backtest found and how it differs from ``gold/alerts``."""

    start: datetime
    end: datetime
    detections: list[str]
    alerts: int = 0
    per_day: dict[str, dict[str, int]] = field(default_factory=dict)
    top_entities: list[tuple[str, int]] = field(default_factory=list)
    new: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def differs(self) -> bool:
        """Whether the backtest's alerts differ from those in ``gold/alerts``."""
        return bool(self.new or self.gone or self.changed)

    def lines(self) -> list[str]:
        """The report as text lines (raw: print through ``jobs.runtime.terminal.safe``)."""
        out = [
            f"backtest {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC, "
            f"{len(self.detections)} detections: {self.alerts} alerts; {len(self.new)} new, "
            f"{len(self.gone)} gone, {len(self.changed)} changed severity against gold/alerts",
            "alerts per day:",
        ]
        out += [
            f"  {day}  " + ", ".join(f"{n} {s}" for s, n in sorted(by.items()))
            for day, by in sorted(self.per_day.items())
        ]
        out.append("top entities:")
        out += [f"  {n:>5}  {entity}" for entity, n in self.top_entities]
        for label, rows in (("new", self.new), ("gone", self.gone)):
            out += [
                f"  {label:<8}{r['alert_id']}  {r['severity']:<8} "
                f"{r['detection_name']}  {r['title']}"
                for r in rows
            ]
        out += [
            f"  changed {r['alert_id']}  {r['was']} -> {r['severity']}  "
            f"{r['detection_name']}  {r['title']}"
            for r in self.changed
        ]
        out += [f"  FAILED  {name}: {error}" for name, error in sorted(self.errors.items())]
        return out

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(
            {
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "detections": self.detections,
                "alerts": self.alerts,
                "per_day": self.per_day,
                "top_entities": [{"entity": e, "alerts": n} for e, n in self.top_entities],
                "new": self.new,
                "gone": self.gone,
                "changed_severity": self.changed,
                "errors": self.errors,
            },
            indent=2,
            sort_keys=True,
            default=str,
        )


def compare(
    found: Sequence[dict[str, Any]], written: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """``(new, gone, changed)``: alerts only the backtest raised, alerts only ``gold/alerts``
    holds, and alerts both hold with different severities (``was``: the written one)."""
    old = {r["alert_id"]: r for r in written}
    now = {r["alert_id"]: r for r in found}
    order = lambda rows: sorted(rows, key=lambda r: (r["first_seen"], r["alert_id"]))  # noqa: E731
    new = order(r for i, r in now.items() if i not in old)
    gone = order(r for i, r in old.items() if i not in now)
    changed = order(
        {**r, "was": old[i]["severity"]}
        for i, r in now.items()
        if i in old and old[i]["severity"] != r["severity"]
    )
    return new, gone, changed


def summarize(report: BacktestReport, found: Iterable[dict[str, Any]]) -> None:
    """Fill the report's counts per day and status and its top entities from the alerts found."""
    days: dict[str, Counter[str]] = {}
    entities: Counter[str] = Counter()
    for r in found:
        report.alerts += 1
        days.setdefault(f"{r['first_seen']:%Y-%m-%d}", Counter())[r["status"]] += 1
        entities.update({f"{e['type']}:{e['value']}" for e in r["entities"]})
    report.per_day = {d: dict(c) for d, c in days.items()}
    report.top_entities = sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ENTITIES]


def _rows(df: DataFrame) -> list[dict[str, Any]]:
    return [r.asDict(recursive=True) for r in df.select(*COMPARED, "entities").collect()]


def backtest(
    spark: SparkSession,
    conf: dict[str, Any],
    start: datetime,
    end: datetime,
    names: Sequence[str],
    run_id: str,
    enrichment: Enrichment,
) -> BacktestReport:
    """Run the enabled detections (or those ``names`` lists) over ``[start, end)``, widened to
    whole windows; write nothing."""
    settings = Settings.of(conf)
    lakehouse = conf["lakehouse"]
    detector_settings = load_settings(settings_path(conf))
    catalog = [
        d for d in load_catalog() if is_enabled(d, detector_settings) or {d.id, d.name} & set(names)
    ]
    unknown = sorted(set(names) - {k for d in catalog for k in (d.id, d.name)})
    if unknown:
        raise DetectionError(
            f"no detection named {', '.join(unknown)}; see docs/detections.md for the list."
        )
    chosen = [d for d in catalog if not names or d.id in names or d.name in names]
    if not chosen:
        raise DetectionError("no enabled detection to backtest; name some with --detections.")
    lo, hi = floor_time(start, settings.window), ceil_time(end, settings.window)
    if hi <= lo:
        raise DetectionError("--to must be later than --from.")
    now = datetime.now(UTC)
    tuning = tuning_for(conf, now)
    report = BacktestReport(lo, hi, [d.name for d in chosen])
    empty = local_frame(spark, [], ALERTS.schema)
    written = ALERTS.read(spark, lakehouse) if ALERTS.exists(spark, lakehouse) else empty
    baselines = (
        BASELINES.read(spark, lakehouse)
        if BASELINES.exists(spark, lakehouse)
        else local_frame(spark, [], BASELINES.schema)
    )
    snaps = {s.view: snapshot(spark, lakehouse, s) for s in SOURCES}
    kept = build_views(
        spark,
        snaps,
        lo - max(d.lookback for d in chosen),
        hi,
        baselines,
        enrichment.with_asn(settings.enrich_asn),
        [d.sql for d in chosen],
    )
    step = int(settings.window.total_seconds())

    def run_one(d: Any) -> DataFrame:
        params = detection_params(d, detector_settings, conf)
        return to_alerts(evaluate(spark, d, params, lo, hi), d, step, run_id, now)

    try:
        parts, outcomes = evaluate_each(chosen, run_one)
        kept.extend(parts)
        report.errors = {d.name: o.error for d in chosen if (o := outcomes[d.id]).error}
        raw = union_all(parts) if parts else empty
        found = _rows(tune(spark, raw, empty, tuning, enrichment.asn_ranges, now, run_id))
    finally:
        for df in kept:
            release(df)
    ran = [d.id for d in chosen if d.name not in report.errors]
    window = (F.col("window_start") >= F.lit(lo)) & (F.col("window_start") < F.lit(hi))
    old = _rows(written.where(F.col("detection_id").isin(ran) & window))
    report.new, report.gone, report.changed = compare(found, old)
    summarize(report, found)
    return report
