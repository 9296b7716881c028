"""Running one detection's SQL over a window, and shaping its evidence rows into alerts.

A detection's SQL returns one row per piece of evidence
(``schemas.alerts.DETECTION_OUTPUT_REQUIRED``
plus its dedupe keys, entity columns and title fields). ``to_alerts`` groups the rows by dedupe
keys and event-time window into ``gold/alerts`` rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

from jobs.detect.catalog import Detection, DetectionError
from schemas.alerts import ALERTS, DETECTION_OUTPUT_REQUIRED, SEVERITIES

log = logging.getLogger("trailwarden.detect")

EVIDENCE_LIMIT = 200
ALERT_ID_TIME = "yyyy-MM-dd'T'HH:mm:ss'Z'"
PARAMETER_BINDING = {"spark.sql.legacy.parameterSubstitution.constantsOnly": "true"}


def enable_parameter_binding(spark: SparkSession) -> None:
    """Make ``spark.sql(sql, args=...)`` bind named parameters with the Delta SQL extension on.

    Delta's parser does not forward Spark 4.1's parameter context (delta-io/delta#7640); the
    legacy constants-only substitution binds them before parsing.
    """
    for key, value in PARAMETER_BINDING.items():
        spark.conf.set(key, value)


def _literal(value: Any) -> Column:
    if isinstance(value, list):
        return F.array(*[_literal(v) for v in value])
    return F.lit(value)


def bind(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as ``spark.sql`` args: scalars as they are, lists as ``array(...)`` columns."""
    return {k: _literal(v) if isinstance(v, list) else v for k, v in params.items()}


def evaluate(
    spark: SparkSession,
    detection: Detection,
    params: dict[str, Any],
    window_start: datetime,
    window_end: datetime,
) -> DataFrame:
    """The detection's evidence rows with event time in ``[window_start, window_end)``."""
    args = bind({**params, "window_start": window_start, "window_end": window_end})
    try:
        rows = spark.sql(detection.sql, args=args)
    except Exception as exc:  # an AnalysisException names the problem on its first line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DetectionError(f"{detection.name}: the SQL does not analyze: {first}") from exc
    check_output(detection, rows.schema)
    return rows.where(
        (F.col("event_time") >= F.lit(window_start)) & (F.col("event_time") < F.lit(window_end))
    )


def check_output(detection: Detection, schema: StructType) -> None:
    """Raise unless the SQL's output has the required columns and every column the metadata
    names."""
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    for name, expected in DETECTION_OUTPUT_REQUIRED.items():
        if types.get(name) != expected:
            raise DetectionError(f"{detection.name}: the SQL must return {name} as {expected}.")
    named = (
        list(detection.dedupe_keys) + [e.column for e in detection.entities]
        + detection.title_fields
    )
    missing = sorted({c for c in named if c not in types})
    if missing:
        raise DetectionError(
            f"{detection.name}: the SQL does not return {', '.join(missing)}, which the YAML names."
        )


def sql_text(value: str) -> str:
    """``value`` as a Spark SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _texts(values: Sequence[str]) -> str:
    return "array(" + ", ".join(sql_text(v) for v in values) + ")"


def _name(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


_SEVERITIES = _texts(SEVERITIES)


def _entities(detection: Detection, schema: StructType) -> str:
    """SQL for the row's entities: ``array<struct<type, value>>`` from the columns the YAML names,
    blank values dropped."""
    parts = []
    for entity in detection.entities:
        col = _name(entity.column)
        values = col if isinstance(schema[entity.column].dataType, ArrayType) else f"array({col})"
        kept = (
            f"coalesce(filter(CAST({values} AS array<string>), "
            "v -> v IS NOT NULL AND trim(v) != ''), CAST(array() AS array<string>))"
        )
        tag = f"named_struct('type', {sql_text(entity.type)}, 'value', v)"
        parts.append(f"transform({kept}, v -> {tag})")
    empty = f"CAST(array() AS {ALERTS['entities'].dataType.simpleString()})"
    return f"concat({', '.join(parts)})" if parts else empty


def _title(detection: Detection) -> str:
    """SQL rendering the title template with the first row's values (``{field}`` -> value or
    ``?``)."""
    pieces = re.split(r"\{[a-z_][a-z0-9_]*\}", detection.title)
    if not detection.title_fields:
        return sql_text(detection.title)
    pattern = sql_text("%s".join(p.replace("%", "%%") for p in pieces))
    values = [f"coalesce(_title.{_name(n)}, '?')" for n in detection.title_fields]
    return f"format_string({pattern}, {', '.join(values)})"


def _first_non_null(name: str) -> str:
    """The value of ``name`` on the earliest row where it is not null (deterministic)."""
    col = _name(name)
    return f"min_by({col}, struct({col} IS NULL, event_time, evidence_id)) AS {col}"


def to_alerts(
    rows: DataFrame, detection: Detection, window_seconds: int, run_id: str, processed_at: datetime
) -> DataFrame:
    """Group evidence rows into ``gold/alerts`` rows: one per dedupe-key values and window.

    Built from SQL expression text: a few plan steps instead of thousands of Column calls, which
    made building the alert frames cost more than evaluating them on small data.
    """
    cols = set(rows.columns)
    schema = rows.schema

    def opt(name: str, dtype: str = "string") -> str:
        return _name(name) if name in cols else f"CAST(NULL AS {dtype})"

    def as_text(name: str) -> str:
        col = _name(name)
        if isinstance(schema[name].dataType, ArrayType):
            return f"array_join(CAST({col} AS array<string>), ', ')"
        return f"CAST({col} AS string)"

    severity = f"lower({opt('severity')})"
    row_severity = (
        f"coalesce(CASE WHEN array_position({_SEVERITIES}, {severity}) > 0 THEN {severity} END, "
        f"{sql_text(detection.severity)})"
    )
    title_struct = (
        "named_struct("
        + ", ".join(f"{sql_text(n)}, {as_text(n)}" for n in detection.title_fields)
        + ")"
        if detection.title_fields
        else "NULL"
    )
    keyed = rows.selectExpr(
        "event_time",
        f"coalesce({opt('alert_time', 'timestamp')}, event_time) AS _alert_time",
        "evidence_id",
        f"timestamp_seconds(floor(unix_seconds(event_time) / {window_seconds}) * {window_seconds})"
        " AS window_start",
        *[
            f"coalesce(CAST({_name(k)} AS string), '') AS _k{i}"
            for i, k in enumerate(detection.dedupe_keys)
        ],
        f"array_position({_SEVERITIES}, {row_severity}) AS _rank",
        *[
            f"{opt(c)} AS {c}"
            for c in ("account_id", "region", "principal_arn", "access_key_id", "source_ip")
        ],
        f"{_entities(detection, schema)} AS _entities",
        "named_struct('id', evidence_id, 'source_file', source_file, 'record_index', record_index)"
        " AS _evidence",
        f"{title_struct} AS _title",
    )
    keys = ["window_start"] + [f"_k{i}" for i in range(len(detection.dedupe_keys))]
    grouped = keyed.groupBy(*keys).agg(*[F.expr(e) for e in (
        "min(event_time) AS first_seen",
        "max(event_time) AS last_seen",
        "min(_alert_time) AS alert_time",
        "count(DISTINCT evidence_id) AS event_count",
        "CAST(max(_rank) AS int) AS _rank",
        *[_first_non_null(c) for c in ("account_id", "region", "principal_arn", "access_key_id")],
        "array_sort(collect_set(source_ip)) AS source_ips",
        "array_sort(array_distinct(flatten(collect_list(_entities)))) AS entities",
        f"slice(array_sort(collect_set(_evidence)), 1, {EVIDENCE_LIMIT}) AS evidence",
        "min_by(_title, struct(event_time, evidence_id)) AS _title",
    )])
    id_text = ", ".join([
        sql_text(detection.id), *keys[1:], f"date_format(window_start, {sql_text(ALERT_ID_TIME)})"
    ])
    key_text = ", ".join([sql_text(detection.id), *keys[1:]])
    alerts = grouped.select(*[F.expr(e) for e in (
        f"substring(sha2(concat_ws(chr(31), {id_text}), 256), 1, 32) AS alert_id",
        f"substring(sha2(concat_ws(chr(31), {key_text}), 256), 1, 32) AS dedupe_key",
        "map(window_start, event_count) AS window_counts",
        "CAST(NULL AS string) AS exception_id",
        f"{sql_text(detection.id)} AS detection_id",
        f"{sql_text(detection.name)} AS detection_name",
        f"{_title(detection)} AS title",
        f"element_at({_SEVERITIES}, _rank) AS severity",
        f"{_texts(detection.techniques)} AS mitre_techniques",
        f"{_texts(detection.tactics)} AS mitre_tactics",
        "window_start", "first_seen", "last_seen", "alert_time",
    )], F.lit(processed_at).alias("created_at"), F.lit(processed_at).alias("updated_at"), *[
        F.expr(e) for e in (
            "event_count", "account_id", "region", "principal_arn", "access_key_id", "source_ips",
            "entities", "evidence", "'open' AS status", f"{sql_text(run_id)} AS run_id",
        )
    ])
    bookkeeping = ("created_at", "updated_at", "status", "run_id", "exception_id", "dedupe_key",
                   "window_counts")
    content = ", ".join(_name(c) for c in alerts.columns if c not in bookkeeping)
    fingerprint = f"sha2(to_json(struct({content})), 256)"
    return alerts.selectExpr(*[
        f"CAST({fingerprint if f.name == 'fingerprint' else _name(f.name)} AS "
        f"{f.dataType.simpleString()}) AS {_name(f.name)}"
        for f in ALERTS.fields
    ])
