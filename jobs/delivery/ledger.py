"""The delivery ledger ``_system/deliveries``: each destination's cursor, what it was last sent
per object, and the append of a run's outcomes (one Delta commit per destination and run)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lakehouse as tables
from jobs.delivery.tables import DELIVERIES, DELIVERIES_TABLE
from jobs.runtime.frames import local_frame


def path(lakehouse: str) -> str:
    return tables.table_path(lakehouse, DELIVERIES_TABLE)


def ledger(spark: SparkSession, lakehouse: str) -> DeltaTable:
    """``_system/deliveries``, created with its contract unless it exists."""
    return tables.ensure_table(spark, path(lakehouse), DELIVERIES)


def read_cursor(spark: SparkSession, lakehouse: str, destination: str, source: str) -> int | None:
    """The last ``source`` version fully delivered to ``destination``, or None before its first."""
    value = (
        ledger(spark, lakehouse).toDF()
        .where((F.col("destination") == destination) & (F.col("source") == source)
               & (F.col("action") == "cursor"))
        .agg(F.max("table_version")).collect()[0][0]
    )
    return None if value is None else int(value)


def read_history(
    spark: SparkSession, lakehouse: str, destination: str, source: str, ids: Collection[str]
) -> list[dict[str, Any]]:
    """Every ledger row of ``destination`` about the objects ``ids``."""
    if not ids:
        return []
    df = ledger(spark, lakehouse).toDF().where(
        (F.col("destination") == destination) & (F.col("source") == source)
        & F.col("object_id").isin(sorted(ids))
    )
    return [r.asDict() for r in df.collect()]


def append(spark: SparkSession, lakehouse: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Append ``rows`` (DELIVERIES-shaped) in one commit."""
    if rows:
        ledger(spark, lakehouse)
        local_frame(spark, rows, DELIVERIES).write.format("delta").mode("append").save(
            path(lakehouse)
        )
