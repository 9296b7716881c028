"""A table's contract on disk: created once, and created again over what a killed creation left."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType

from jobs.runtime.delta import Table

TABLE = Table(
    "silver/things",
    StructType([StructField("id", StringType(), False), StructField("n", LongType())]),
    partition_by=("id",),
    properties={"delta.appendOnly": "false"},
)


def test_a_creation_killed_before_its_first_commit_is_created_again(
    spark: SparkSession, tmp_path: Path
) -> None:
    # What a kill -9 during DeltaTable.createIfNotExists left: a log without a commit.
    log = tmp_path / "silver/things/_delta_log"
    (log / "_staged_commits").mkdir(parents=True)
    (log / ".00000000000000000000.json.5f1c.tmp").write_text('{"commitInfo":')
    assert not TABLE.exists(spark, str(tmp_path))

    TABLE.ensure(spark, str(tmp_path))

    assert TABLE.exists(spark, str(tmp_path))
    assert TABLE.read(spark, str(tmp_path)).schema == TABLE.schema
    assert not (log / ".00000000000000000000.json.5f1c.tmp").exists()


def test_a_log_that_holds_a_commit_is_never_cleared(spark: SparkSession, tmp_path: Path) -> None:
    lake = str(tmp_path)
    TABLE.ensure(spark, lake)
    TABLE.append(spark.createDataFrame([("a", 1)], TABLE.schema), lake)
    stray = tmp_path / "silver/things/_delta_log/.00000000000000000002.json.9e2a.tmp"
    stray.write_text("{")

    TABLE.ensure(spark, lake)

    assert [tuple(r) for r in TABLE.read(spark, lake).collect()] == [("a", 1)]
    assert stray.exists()
