"""Delta tables: a table's contract (path under the lakehouse root, schema, partitions,
properties) and the keyed MERGEs every writer uses, so that a rerun never duplicates a row."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

# A log file that only a commit writes (versions, checkpoints, staged commits); hidden files
# (".N.json.crc", temporary files) are written before a commit and prove nothing.
COMMIT_FILE = re.compile(r"\d{20}\..*|_last_checkpoint")
# On S3 another writer may be creating the same table; its log is left alone this long.
S3_CREATION_GRACE_SECONDS = 60


@dataclass(frozen=True, eq=False)
class Table:
    """One Delta table: ``name`` is its path relative to the lakehouse root (part of the
    interface, see docs/tables.md). Tables are compared and hashed by identity."""

    name: str
    schema: StructType
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)

    def path(self, lakehouse: str) -> str:
        """The table's URI under the lakehouse root."""
        return f"{lakehouse.rstrip('/')}/{self.name}"

    def ensure(self, spark: SparkSession, lakehouse: str) -> DeltaTable:
        """Create the table with its contract unless it exists; return it.

        An existing table that lacks columns the contract added since it was created gains them
        (``ALTER TABLE ... ADD COLUMNS``; such columns are nullable, old rows read NULL)."""
        if self.exists(spark, lakehouse):
            table = DeltaTable.forPath(spark, self.path(lakehouse))
            if self._add_missing_columns(spark, table, lakehouse):
                table = DeltaTable.forPath(spark, self.path(lakehouse))  # the altered snapshot
            return table
        self._clear_unfinished_creation(spark, lakehouse)
        builder = DeltaTable.createIfNotExists(spark).location(self.path(lakehouse))
        builder = builder.addColumns(self.schema)
        if self.partition_by:
            builder = builder.partitionedBy(*self.partition_by)
        for key, value in self.properties.items():
            builder = builder.property(key, value)
        return builder.execute()

    def _clear_unfinished_creation(self, spark: SparkSession, lakehouse: str) -> None:
        """Remove a ``_delta_log`` that holds no commit: a run killed while creating the table
        leaves one, and Delta then refuses both to read the table and to create it. Nothing was
        ever committed there, so nothing is lost. On S3 (no writer lock) a log younger than
        ``S3_CREATION_GRACE_SECONDS`` may be another run's creation in progress and stays."""
        jvm = spark.sparkContext._jvm
        log = jvm.org.apache.hadoop.fs.Path(f"{self.path(lakehouse)}/_delta_log")
        fs = log.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        if not fs.exists(log):
            return
        files, listing = [], fs.listFiles(log, True)
        while listing.hasNext():
            files.append(listing.next())
        if any(COMMIT_FILE.fullmatch(f.getPath().getName()) for f in files):
            return
        newest = max((f.getModificationTime() for f in files), default=0) / 1000
        if lakehouse.startswith("s3") and time.time() - newest < S3_CREATION_GRACE_SECONDS:
            return
        fs.delete(log, True)

    def _add_missing_columns(self, spark: SparkSession, table: DeltaTable, lakehouse: str) -> bool:
        present = set(table.toDF().columns)
        missing = [f for f in self.schema.fields if f.name not in present]
        if missing:
            columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
            spark.sql(f"ALTER TABLE delta.`{self.path(lakehouse)}` ADD COLUMNS ({columns})")
        return bool(missing)

    def exists(self, spark: SparkSession, lakehouse: str) -> bool:
        """Whether a Delta table is at the table's path."""
        return DeltaTable.isDeltaTable(spark, self.path(lakehouse))

    def read(self, spark: SparkSession, lakehouse: str) -> DataFrame:
        """The table's current rows."""
        return spark.read.format("delta").load(self.path(lakehouse))

    def append(self, rows: DataFrame, lakehouse: str) -> None:
        """Append ``rows`` (for tables whose rows are unique by construction, e.g. per run).
        A column the contract gained since the table was created is added to it (nullable)."""
        rows.write.format("delta").mode("append").option("mergeSchema", "true").save(
            self.path(lakehouse))


def merge_on_keys(
    target: DeltaTable,
    rows: DataFrame,
    keys: Sequence[str],
    *,
    update: str | None = None,
    update_set: Mapping[str, str] | None = None,
    insert: bool = True,
    also: str | None = None,
) -> dict[str, int]:
    """MERGE ``rows`` (unique on ``keys``) into ``target``; return Delta's row counts.

    A row whose keys are new is inserted (unless ``insert`` is false). A row whose keys exist
    updates it only when ``update`` is given: the condition (``t.`` target, ``s.`` source; "true"
    for always) under which ``update_set`` (column -> expression; every column when None) is
    applied. ``also`` adds a condition on the target to the match, e.g. a partition filter.
    """
    condition = " AND ".join([f"t.`{k}` = s.`{k}`" for k in keys] + ([also] if also else []))
    merge = target.alias("t").merge(rows.alias("s"), condition)
    if update is not None:
        when = None if update == "true" else update
        merge = (merge.whenMatchedUpdateAll(condition=when) if update_set is None
                 else merge.whenMatchedUpdate(condition=when, set=dict(update_set)))
    if insert:
        merge = merge.whenNotMatchedInsertAll()
    metrics = merge.execute().first()
    return _counts(metrics)


def _counts(metrics: Any) -> dict[str, int]:
    names = ("num_affected_rows", "num_updated_rows", "num_deleted_rows", "num_inserted_rows")
    row = metrics.asDict() if metrics is not None else {}
    return {name.removeprefix("num_").removesuffix("_rows"): int(row.get(name) or 0)
            for name in names}
