"""Materialized frames: computed once, read through a scan of the kept rows, freed on release."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from jobs.frames import materialize, release, union_all


def test_a_materialized_frame_reads_its_rows_until_released(spark: SparkSession) -> None:
    source = spark.range(6).selectExpr("id", "id * 2 AS double")
    kept = materialize(source.where("id % 2 = 0"))
    persistent = spark.sparkContext._jsc.getPersistentRDDs()
    before = len(persistent)

    assert [tuple(r) for r in kept.orderBy("id").collect()] == [(0, 0), (2, 4), (4, 8)]
    assert kept.where("double > 3").count() == 2

    release(kept)
    assert len(spark.sparkContext._jsc.getPersistentRDDs()) == before - 1
    with pytest.raises(Exception, match="CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND"):
        kept.count()


def test_union_all_keeps_every_row_of_every_frame(spark: SparkSession) -> None:
    frames = [spark.createDataFrame([(i, f"v{i}")], "n int, v string") for i in (1, 2, 2)]
    assert sorted(tuple(r) for r in union_all(frames).collect()) == [
        (1, "v1"), (2, "v2"), (2, "v2"),
    ]
