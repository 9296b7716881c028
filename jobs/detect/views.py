"""The SQL views detections read, and the pure transforms that shape them.

One view per log source (``LogSource.view``: the silver table plus the source's view columns and
ASN lookups), one ``baseline_<kind>`` view per baseline kind, and the intel views and SQL
functions of ``jobs.enrich`` (``is_private_ip``, ``ip_version``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from jobs.enrich.asn import with_asn
from jobs.runtime.frames import local_frame
from jobs.sources import SOURCES, LogSource
from schemas.alerts import BASELINES

# Baseline kind -> (view, subject column, value column, value type). The SELECTs that feed each
# kind live in jobs/detect/baselines.py.
BASELINE_KINDS: dict[str, tuple[str, str, str]] = {
    "principal_asn": ("actor_arn", "asn", "int"),
    "principal_ip": ("actor_arn", "source_ip", "string"),
    "principal_user_agent": ("actor_arn", "ua_family", "string"),
    "principal_event": ("actor_arn", "event_key", "string"),
    "principal_instance_type": ("actor_arn", "instance_type", "string"),
    "access_key_usage": ("access_key_id", "", "string"),
    "access_key_asn": ("access_key_id", "asn", "int"),
    "eni_instance": ("eni", "instance_id", "string"),
    "trail_bucket": ("bucket", "trail_name", "string"),
    "trail_creator": ("actor_arn", "trail_name", "string"),
    "principal_secret": ("actor_arn", "secret", "string"),
}


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Select ``schema``'s columns in order, adding missing ones as typed NULLs."""
    present = set(df.columns)
    # SQL text, parsed once on the JVM: building a Column and a cast per field from Python costs
    # a py4j round trip each, 0.4 s per silver view.
    return df.selectExpr(
        *[
            f"CAST({_quoted(f.name) if f.name in present else 'NULL'}"
            f" AS {f.dataType.simpleString()}) AS {_quoted(f.name)}"
            for f in schema.fields
        ]
    )


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def empty_frame(spark: SparkSession, schema: StructType) -> DataFrame:
    """An empty DataFrame of ``schema`` (nullable, so test rows may omit any column)."""
    relaxed = StructType([StructField(f.name, f.dataType, True) for f in schema.fields])
    return local_frame(spark, [], relaxed)


def source_view(
    rows: DataFrame, source: LogSource, ranges: DataFrame | None, readers: Sequence[str] = (),
) -> DataFrame:
    """Silver rows of ``source`` with its view columns, ASN lookups (when ``ranges``) and its heavy
    columns left NULL unless one of ``readers`` (the SQL texts that will read it) names them."""
    if source.add_view_columns is not None:
        rows = source.add_view_columns(rows)
    for column in source.heavy_columns:
        if not named(readers, column):
            rows = rows.withColumn(column, F.lit(None).cast(source.table.schema[column].dataType))
    if ranges is not None:
        for address, prefix in source.asn_lookups:
            rows = with_asn(rows, address, ranges, prefix=prefix)
    return rows


def named(texts: Sequence[str], name: str) -> bool:
    """Whether any of ``texts`` names ``name`` as a whole word."""
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return any(pattern.search(t) for t in texts)


def baseline_view(baselines: DataFrame, kind: str) -> DataFrame:
    """The ``baseline_<kind>`` view: subject and value under their own names, first/last seen."""
    subject, value, value_type = BASELINE_KINDS[kind]
    cols = [F.col("subject").alias(subject)]
    if value:
        cols.append(F.expr(f"try_cast(value AS {value_type})").alias(value))
    return baselines.where(F.col("kind") == kind).select(*cols, "first_seen", "last_seen")


def register_views(
    spark: SparkSession, frames: Mapping[str, DataFrame], baselines: DataFrame | None
) -> None:
    """Register the silver views (``frames`` by view name; missing ones empty) and the baseline
    views (from the baselines table, or empty)."""
    for source in SOURCES:
        frame, schema = frames.get(source.view), source.view_schema
        view = conform(frame, schema) if frame is not None else empty_frame(spark, schema)
        view.createOrReplaceTempView(source.view)
    source = baselines if baselines is not None else empty_frame(spark, BASELINES)
    for kind in BASELINE_KINDS:
        baseline_view(source, kind).createOrReplaceTempView(f"baseline_{kind}")
