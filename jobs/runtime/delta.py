"""Delta tables: a table's contract (path under the lakehouse root, schema, partitions,
properties) and the keyed MERGEs every writer uses, so that a rerun never duplicates a row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType


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
        builder = DeltaTable.createIfNotExists(spark).location(self.path(lakehouse))
        builder = builder.addColumns(self.schema)
        if self.partition_by:
            builder = builder.partitionedBy(*self.partition_by)
        for key, value in self.properties.items():
            builder = builder.property(key, value)
        return builder.execute()

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
