"""Idempotent writes of an ingest batch: keyed inserts, quarantine rows and the file manifest."""

from __future__ import annotations

from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.runtime.delta import merge_on_keys
from jobs.runtime.frames import local_frame
from schemas.system import INGESTED_FILES, QUARANTINE


def first_per_key(df: DataFrame, key: str, order: list[Column]) -> DataFrame:
    """Keep one row per ``key``: the first by ``order`` (deterministic batch deduplication)."""
    rank = F.row_number().over(Window.partitionBy(key).orderBy(*order))
    return df.withColumn("_rank", rank).where("_rank = 1").drop("_rank")


def _date_filter(batch: DataFrame) -> str:
    dates = sorted(str(r[0]) for r in batch.select("event_date").distinct().collect())
    return "t.event_date IN (" + ", ".join(f"DATE'{d}'" for d in dates) + ")" if dates else "false"


def insert_new(target: DeltaTable, batch: DataFrame, key: str) -> int:
    """Insert the rows of ``batch`` whose ``key`` is not in ``target``; return rows inserted.

    ``batch`` is unique on ``key``; a row with the same key is the same record delivered again.
    The target is pruned to the batch's ``event_date`` partitions.
    """
    return merge_on_keys(target, batch, [key], also=_date_filter(batch))["inserted"]


def upsert_newer(target: DeltaTable, batch: DataFrame, key: str, version_col: str) -> int:
    """Insert new keys and replace rows whose ``version_col`` is newer; return rows written."""
    counts = merge_on_keys(target, batch, [key], update=f"s.{version_col} > t.{version_col}")
    return counts["inserted"] + counts["updated"]


def quarantine_rows(
    rows: DataFrame, source: str, raw_col: str, raw_max_chars: int, run_id: str, now: datetime
) -> DataFrame:
    """Shape rejected rows (``source_file``, ``record_index``, ``reason``, raw text) for quarantine."""
    key = F.concat_ws(
        "\u001f", F.lit(source), "source_file",
        F.coalesce(F.col("record_index").cast("string"), F.lit("file")), "reason",
    )
    return rows.select(
        F.sha2(key, 256).alias("quarantine_id"),
        F.lit(source).alias("source"),
        "source_file",
        "record_index",
        "reason",
        F.left(F.col(raw_col), F.lit(raw_max_chars)).alias("raw"),
        F.lit(now).alias("quarantined_at"),
        F.lit(run_id).alias("run_id"),
    ).select(*[F.col(f.name).cast(f.dataType.simpleString()) for f in QUARANTINE.fields])


def add_quarantine(target: DeltaTable, rows: DataFrame) -> None:
    """Insert quarantine rows not already there (a rerun after a crash adds nothing)."""
    merge_on_keys(target, rows, ["quarantine_id"])


def record_files(
    spark: SparkSession, path: str, files: list[tuple[str, str, int, datetime, str]],
    run_id: str, now: datetime,
) -> None:
    """Insert ``(path, source, size, modified_at, status)`` rows into the file manifest, each
    path once: two runs at once on an S3 lakehouse that both read a file record it once (the
    second's MERGE sees the first's rows, or fails on its concurrent commit)."""
    if not files:
        return
    rows = [(p, s, size, mod, status, run_id, now) for p, s, size, mod, status in files]
    merge_on_keys(DeltaTable.forPath(spark, path), local_frame(spark, rows, INGESTED_FILES),
                  ["path"])
