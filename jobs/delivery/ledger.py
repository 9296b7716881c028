"""The delivery ledger ``_system/deliveries``: each destination's cursor, what it was last sent
per object, and the append of a run's outcomes (one Delta commit per destination and run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.lakehouse import DELIVERIES
from jobs.runtime.frames import local_frame


def path(lakehouse: str) -> str:
    return DELIVERIES.path(lakehouse)


def ledger(spark: SparkSession, lakehouse: str) -> DeltaTable:
    """``_system/deliveries``, created with its contract unless it exists."""
    return DELIVERIES.ensure(spark, lakehouse)


def read_rows(
    spark: SparkSession, lakehouse: str, destination: str, source: str
) -> list[dict[str, Any]]:
    """Every ledger row of ``destination`` about ``source`` (its cursor rows included)."""
    df = spark.read.format("delta").load(path(lakehouse)).where(
        (F.col("destination") == destination) & (F.col("source") == source)
    )
    return [r.asDict() for r in df.drop("response", "error").collect()]


def cursor_of(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """The last version fully delivered (the newest ``cursor`` row), or None before the first."""
    versions = [int(r["table_version"]) for r in rows if r["action"] == "cursor"]
    return max(versions) if versions else None


def read_cursor(spark: SparkSession, lakehouse: str, destination: str, source: str) -> int | None:
    """``cursor_of`` the destination's rows (for callers outside a run)."""
    return cursor_of(read_rows(spark, lakehouse, destination, source))


def append(spark: SparkSession, lakehouse: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (DELIVERIES-shaped) in one commit (the table exists: ``ledger``)."""
    if rows:
        local_frame(spark, rows, DELIVERIES.schema).write.format("delta").mode("append").save(
            path(lakehouse)
        )
