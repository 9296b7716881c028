"""Idempotent writes of an ingest batch: keyed inserts, quarantine rows and the file manifest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.ingest.landing import LandingFile
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


def written_per_file(table: DataFrame, batch: DataFrame, run_id: str) -> dict[str, int]:
    """Rows of ``table`` (a silver table after the MERGE of ``batch``) that run ``run_id`` wrote,
    per ``source_file``; read only from the batch's ``event_date`` partitions."""
    dates = [r[0] for r in batch.select("event_date").distinct().collect()]
    rows = table.where(F.col("event_date").isin(dates) & (F.col("run_id") == run_id))
    return {r[0]: r[1] for r in rows.groupBy("source_file").count().collect()}


def upsert_newer(target: DeltaTable, batch: DataFrame, key: str, version_col: str) -> int:
    """Insert new keys and replace rows whose ``version_col`` is newer; return rows written."""
    counts = merge_on_keys(target, batch, [key], update=f"s.{version_col} > t.{version_col}")
    return counts["inserted"] + counts["updated"]


def quarantine_rows(
    rows: DataFrame, source: str, raw_col: str, raw_max_chars: int, run_id: str, now: datetime
) -> DataFrame:
    """Shape rejected rows (``source_file``, ``record_index``, ``reason``, raw text, optionally
    ``file_version`` for a file re-delivered with new content) for quarantine."""
    version = F.col("file_version") if "file_version" in rows.columns else F.lit(None)
    key = F.concat_ws(  # a null version (a file's first delivery) adds nothing to the key
        "\u001f", F.lit(source), "source_file",
        F.coalesce(F.col("record_index").cast("string"), F.lit("file")), "reason",
        version.cast("string"),
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


@dataclass(frozen=True)
class FileOutcome:
    """What a run did with one landing file: its manifest row and its own accounting."""

    file: LandingFile
    source: str
    status: str  # ingested | quarantined | skipped
    records_read: int = 0
    rows_written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reason: str | None = None

    def balanced(self) -> bool:
        return self.records_read == self.rows_written + self.duplicates + self.quarantined


def record_files(
    spark: SparkSession, path: str, outcomes: list[FileOutcome], run_id: str, now: datetime,
) -> None:
    """Insert one manifest row per file outcome, each version of a file (path, size, modified
    time) once: two runs at once on an S3 lakehouse that both read a file record it once (the
    second's MERGE sees the first's rows, or fails on its concurrent commit)."""
    if not outcomes:
        return
    rows = [
        {"path": o.file.path, "source": o.source, "size": o.file.size,
         "modified_at": o.file.modified_at, "status": o.status, "run_id": run_id,
         "ingested_at": now, "etag": o.file.etag, "records_read": o.records_read,
         "rows_written": o.rows_written, "duplicates": o.duplicates,
         "quarantined": o.quarantined, "reason": o.reason}
        for o in outcomes
    ]
    merge_on_keys(DeltaTable.forPath(spark, path), local_frame(spark, rows, INGESTED_FILES),
                  ["path", "size", "modified_at"])
