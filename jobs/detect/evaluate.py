"""Running one detection's SQL over a window, and shaping its evidence rows into alerts.

A detection's SQL returns one row per piece of evidence (``schemas.alerts.DETECTION_OUTPUT_REQUIRED``
plus its dedupe keys, entity columns and title fields). ``to_alerts`` groups the rows by dedupe
keys and event-time window into ``gold/alerts`` rows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

from jobs.detect.catalog import Detection, DetectionError
from schemas.alerts import ALERTS, DETECTION_OUTPUT_REQUIRED, SEVERITIES

log = logging.getLogger("trailwarden.detect")

EVIDENCE_LIMIT = 200
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
    return rows.where((F.col("event_time") >= F.lit(window_start)) & (F.col("event_time") < F.lit(window_end)))


def check_output(detection: Detection, schema: StructType) -> None:
    """Raise unless the SQL's output has the required columns and every column the metadata names."""
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    for name, expected in DETECTION_OUTPUT_REQUIRED.items():
        if types.get(name) != expected:
            raise DetectionError(f"{detection.name}: the SQL must return {name} as {expected}.")
    named = list(detection.dedupe_keys) + [e.column for e in detection.entities] + detection.title_fields
    missing = sorted({c for c in named if c not in types})
    if missing:
        raise DetectionError(f"{detection.name}: the SQL does not return {', '.join(missing)}, which the YAML names.")


def _severity_rank(expr: Column) -> Column:
    return F.array_position(F.array(*[F.lit(s) for s in SEVERITIES]), expr)


def _tagger(entity_type: str) -> Callable[[Column], Column]:
    def tag(value: Column) -> Column:
        return F.struct(F.lit(entity_type).alias("type"), value.alias("value"))

    return tag


def _entities(detection: Detection, schema: StructType) -> Column:
    arrays = set()
    for f in schema.fields:
        if isinstance(f.dataType, ArrayType):
            arrays.add(f.name)
    parts = []
    for entity in detection.entities:
        values = F.col(entity.column) if entity.column in arrays else F.array(F.col(entity.column))
        values = F.coalesce(
            F.filter(values.cast("array<string>"), lambda v: v.isNotNull() & (F.trim(v) != "")),
            F.array().cast("array<string>"),
        )
        parts.append(F.transform(values, _tagger(entity.type)))
    return F.concat(*parts) if parts else F.array().cast(ALERTS["entities"].dataType)


def _title(detection: Detection, fields: Column) -> Column:
    """Render the title template with the first row's values (``{field}`` -> value or ``?``)."""
    pieces = re.split(r"\{[a-z_][a-z0-9_]*\}", detection.title)
    pattern = "%s".join(p.replace("%", "%%") for p in pieces)
    names = detection.title_fields
    if not names:
        return F.lit(detection.title)
    values = [F.coalesce(fields.getField(n), F.lit("?")) for n in names]
    return F.format_string(pattern, *values)


def _first_non_null(name: str) -> Column:
    """The value of ``name`` on the earliest row where it is not null (deterministic)."""
    order = F.struct(F.col(name).isNull(), F.col("event_time"), F.col("evidence_id"))
    return F.min_by(F.col(name), order)


def to_alerts(
    rows: DataFrame, detection: Detection, window_seconds: int, run_id: str, processed_at: datetime
) -> DataFrame:
    """Group evidence rows into ``gold/alerts`` rows: one per dedupe-key values and window."""
    cols = set(rows.columns)
    schema = rows.schema

    def opt(name: str) -> Column:
        return F.col(name) if name in cols else F.lit(None).cast("string")

    def as_text(name: str) -> Column:
        dtype = schema[name].dataType
        return F.array_join(F.col(name).cast("array<string>"), ", ") if isinstance(dtype, ArrayType) else F.col(name).cast("string")

    row_severity = F.coalesce(
        F.when(_severity_rank(F.lower(opt("severity"))) > 0, F.lower(opt("severity"))), F.lit(detection.severity)
    )
    window = F.timestamp_seconds(
        F.floor(F.unix_seconds(F.col("event_time")) / window_seconds) * window_seconds
    )
    title_struct = (
        F.struct(*[as_text(n).alias(n) for n in detection.title_fields]) if detection.title_fields else F.lit(None)
    )
    keyed = rows.select(
        F.col("event_time"),
        F.coalesce(F.col("alert_time") if "alert_time" in cols else F.lit(None).cast("timestamp"), F.col("event_time")).alias("_alert_time"),
        F.col("evidence_id"),
        window.alias("window_start"),
        *[F.coalesce(F.col(k).cast("string"), F.lit("")).alias(f"_k{i}") for i, k in enumerate(detection.dedupe_keys)],
        _severity_rank(row_severity).alias("_rank"),
        opt("account_id").alias("account_id"),
        opt("region").alias("region"),
        opt("principal_arn").alias("principal_arn"),
        opt("access_key_id").alias("access_key_id"),
        opt("source_ip").alias("source_ip"),
        _entities(detection, schema).alias("_entities"),
        F.struct(
            F.col("evidence_id").alias("id"), F.col("source_file"), F.col("record_index")
        ).alias("_evidence"),
        title_struct.alias("_title"),
    )
    keys = ["window_start"] + [f"_k{i}" for i in range(len(detection.dedupe_keys))]
    grouped = keyed.groupBy(*keys).agg(
        F.min("event_time").alias("first_seen"),
        F.max("event_time").alias("last_seen"),
        F.min("_alert_time").alias("alert_time"),
        F.count_distinct("evidence_id").alias("event_count"),
        F.max("_rank").cast("int").alias("_rank"),
        *[_first_non_null(c).alias(c) for c in ("account_id", "region", "principal_arn", "access_key_id")],
        F.array_sort(F.collect_set("source_ip")).alias("source_ips"),
        F.array_sort(F.array_distinct(F.flatten(F.collect_list("_entities")))).alias("entities"),
        F.slice(F.array_sort(F.collect_set("_evidence")), 1, EVIDENCE_LIMIT).alias("evidence"),
        F.min_by("_title", F.struct("event_time", "evidence_id")).alias("_title"),
    )
    id_text = F.concat_ws(
        "\u001f", F.lit(detection.id), *[F.col(k) for k in keys[1:]],
        F.date_format("window_start", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
    )
    alerts = grouped.select(
        F.substring(F.sha2(id_text, 256), 1, 32).alias("alert_id"),
        F.lit(detection.id).alias("detection_id"),
        F.lit(detection.name).alias("detection_name"),
        _title(detection, F.col("_title")).alias("title"),
        F.element_at(F.array(*[F.lit(s) for s in SEVERITIES]), F.col("_rank")).alias("severity"),
        F.array(*[F.lit(t) for t in detection.techniques]).alias("mitre_techniques"),
        F.array(*[F.lit(t) for t in detection.tactics]).alias("mitre_tactics"),
        "window_start", "first_seen", "last_seen", "alert_time",
        F.lit(processed_at).alias("created_at"),
        F.lit(processed_at).alias("updated_at"),
        "event_count", "account_id", "region", "principal_arn", "access_key_id", "source_ips",
        "entities", "evidence",
        F.lit("open").alias("status"),
        F.lit(run_id).alias("run_id"),
    )
    content = [c for c in alerts.columns if c not in ("created_at", "updated_at", "status", "run_id")]
    fingerprint = F.sha2(F.to_json(F.struct(*[F.col(c) for c in content])), 256)
    return alerts.withColumn("fingerprint", fingerprint).select(
        *[F.col(f.name).cast(f.dataType).alias(f.name) for f in ALERTS.fields]
    )
