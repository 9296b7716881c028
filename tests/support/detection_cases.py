"""Running a detection's YAML test cases: given rows per view -> the alerts its real SQL raises.

A case is ``{name, given: {view: [row, ...]}, expect: [alert, ...]}``. Rows name only the columns
that matter; required bookkeeping columns get defaults, JSON columns may be written as YAML
mappings, ``baselines`` rows feed the ``baseline_*`` views, ``intel_*`` rows replace the shipped
intel lists. ``params`` overrides
parameters (small thresholds keep cases short). An expected alert lists the alert fields to
compare (exactly); ``entities`` as
``type:value`` strings and ``evidence`` as ids.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StructField,
    StructType,
    TimestampType,
)

from jobs.detect.catalog import Detection, detection_params
from jobs.detect.evaluate import enable_parameter_binding, evaluate, to_alerts
from jobs.detect.views import register_views
from jobs.enrich import EMPTY_INTEL
from jobs.enrich.intel import IntelError, load_intel, register_intel_views
from jobs.enrich.ip import register_sql_functions
from jobs.runtime.frames import local_frame
from jobs.runtime.times import parse_time
from jobs.sources import SOURCES, LogSource
from schemas.alerts import BASELINES

CASE_RUN_ID = "test-run"
CASE_NOW = datetime(2030, 1, 1, tzinfo=UTC)
JSON_COLUMNS = {c for s in SOURCES for c in s.json_columns}


def _coerce(value: Any, dtype: DataType) -> Any:
    if value is None:
        return None
    if isinstance(dtype, TimestampType):
        return value if isinstance(value, datetime) else parse_time(str(value))
    if isinstance(dtype, DateType):
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if isinstance(dtype, (IntegerType, LongType)):
        return int(value)
    if isinstance(dtype, DoubleType):
        return float(value)
    if isinstance(dtype, BooleanType):
        return bool(value)
    if isinstance(dtype, ArrayType):
        return [_coerce(v, dtype.elementType) for v in value]
    if isinstance(dtype, StructType) and isinstance(value, dict):
        return tuple(_coerce(value.get(f.name), f.dataType) for f in dtype.fields)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _complete(view: str, row: dict[str, Any], index: int) -> dict[str, Any]:
    out = dict(row)
    source = next((s for s in SOURCES if s.view == view), None)
    if source is not None:
        time_col = source.case_time_column
        out.setdefault(source.key, f"{view}-{index}")
        when = out.get(time_col)
        out.setdefault("event_date", str(when)[:10] if when else "2026-01-01")
        out.setdefault("source_file", f"test/{view}.json")
        out.setdefault("record_index", index)
        out.setdefault("ingested_at", when or "2026-01-01T00:00:00Z")
        out.setdefault("run_id", CASE_RUN_ID)
        if source.complete_case_row is not None:
            out = source.complete_case_row(out)
    for col in JSON_COLUMNS & out.keys():
        if isinstance(out[col], (dict, list)):
            out[col] = json.dumps(out[col])
    return out


def frame(
    spark: SparkSession, schema: StructType, view: str, rows: list[dict[str, Any]]
) -> DataFrame:
    """A DataFrame of ``schema`` (all nullable) from partial rows."""
    relaxed = StructType([StructField(f.name, f.dataType, True) for f in schema.fields])
    unknown = sorted({k for r in rows for k in r} - set(schema.fieldNames()))
    if unknown:
        raise ValueError(f"{view} rows name unknown columns {', '.join(unknown)}.")
    data = [
        tuple(_coerce(r.get(f.name), f.dataType) for f in schema.fields)
        for r in (_complete(view, row, i) for i, row in enumerate(rows))
    ]
    return local_frame(spark, data, relaxed)


class CaseViews:
    """Registers a case's rows as the detection views on one session. It registers the SQL
    functions once, and the intel views only when a case brings its own lists or the previous
    case did (``intel`` says which lists the views hold)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.intel: str | None = None
        enable_parameter_binding(spark)
        register_sql_functions(spark)

    def register(self, given: dict[str, list[dict[str, Any]]]) -> None:
        """Register every view from a case's ``given`` rows (views not given are empty)."""
        views = {s.view: s for s in SOURCES}
        unknown = sorted(k for k in given
                         if k not in views and k != "baselines" and not k.startswith("intel_"))
        if unknown:
            raise ValueError(f"given names unknown views {', '.join(unknown)}.")
        frames: dict[str, DataFrame] = {}
        for view, source in views.items():
            rows = given.get(view)
            if rows is None:
                continue
            df = frame(self.spark, source.view_schema, view, rows)
            if source.add_view_columns is not None:
                derived = set(_derived_columns(source)) - {k for r in rows for k in r}
                df = source.add_view_columns(df.drop(*derived)) if derived else df
            frames[view] = df
        baselines = frame(self.spark, BASELINES, "baselines", [
            {"updated_at": r.get("last_seen"), "run_id": CASE_RUN_ID, "value": "", **r}
            for r in given.get("baselines", [])
        ])
        register_views(self.spark, frames, baselines)
        custom = {k[len("intel_"):]: v for k, v in given.items() if k.startswith("intel_")}
        if custom or self.intel != "shipped":
            register_intel_views(self.spark, {**_intel(), **custom})
            self.intel = "custom" if custom else "shipped"


def _derived_columns(source: LogSource) -> list[str]:
    """The view columns ``add_view_columns`` derives (the extras that are not ASN lookups)."""
    prefixes = tuple(prefix for _, prefix in source.asn_lookups)
    return [c for c in source.view_extras.fieldNames() if not c.startswith(prefixes or ("\0",))]


def _intel() -> dict[str, Any]:
    try:
        return load_intel()
    except IntelError:
        return dict(EMPTY_INTEL)


def case_window(case: dict[str, Any]) -> tuple[datetime, datetime]:
    """The case's window: ``window: [start, end]`` or a wide default."""
    bounds = case.get("window") or ["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"]
    return parse_time(str(bounds[0])), parse_time(str(bounds[1]))


def run_case(
    views: CaseViews, detection: Detection, case: dict[str, Any], settings: dict[str, Any],
    conf: dict[str, Any],
) -> list[dict[str, Any]]:
    """Run the detection's SQL over the case's rows; return its alerts as plain dicts."""
    spark = views.spark
    views.register(case.get("given") or {})
    params = {**detection_params(detection, settings, conf), **(case.get("params") or {})}
    start, end = case_window(case)
    rows = evaluate(spark, detection, params, start, end)
    alerts = to_alerts(rows, detection, params["window_seconds"], CASE_RUN_ID, CASE_NOW)
    return [
        plain(a.asDict(recursive=True))
        for a in alerts.orderBy("first_seen", "title", "alert_id").collect()
    ]


def _iso(ts: datetime) -> str:
    return (
        ts.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if ts.tzinfo is None
        else ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def plain(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert row as comparable plain values (times ISO, entities ``type:value``, evidence
    ids)."""
    out = {k: _iso(v) if isinstance(v, datetime) else v for k, v in alert.items()}
    out["entities"] = [f"{e['type']}:{e['value']}" for e in alert["entities"]]
    out["evidence"] = [e["id"] for e in alert["evidence"]]
    return out


def mismatches(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Differences between expected alerts (subsets of fields) and actual alerts, in order."""
    problems = []
    if len(expected) != len(actual):
        problems.append(
            f"expected {len(expected)} alerts, got {len(actual)}: {[a['title'] for a in actual]}"
        )
    for i, (want, got) in enumerate(zip(expected, actual, strict=False)):
        for key, value in want.items():
            if got.get(key) != value:
                problems.append(f"alert {i} {key}: expected {value!r}, got {got.get(key)!r}")
    return problems
