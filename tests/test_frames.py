"""Local frames: driver rows as a local relation. Materialized frames: computed once, read
through a scan of the kept rows, freed on release."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest
from pyspark.sql import Row, SparkSession

from jobs.runtime.frames import local_frame, materialize, release, union_all
from jobs.runtime.times import pin_process_to_utc, utc


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
    frames = [local_frame(spark, [(i, f"v{i}")], "n int, v string") for i in (1, 2, 2)]
    assert sorted(tuple(r) for r in union_all(frames).collect()) == [
        (1, "v1"), (2, "v2"), (2, "v2"),
    ]


def test_local_frame_takes_tuples_mappings_and_nested_values(spark: SparkSession) -> None:
    schema = (
        "id int, at timestamp, tags array<string>, counts map<string, bigint>, "
        "who struct<name: string, ids: array<int>>, note string"
    )
    at = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    df = local_frame(spark, [
        (1, at, ["a", "b"], {"x": 2}, ("root", [1, 2]), None),
        {"id": 2, "who": Row(name="dev", ids=[])},  # a mapping; missing columns are null
    ], schema)

    assert df.orderBy("id").collect() == [
        Row(id=1, at=datetime(2026, 11, 20, 14, 5), tags=["a", "b"], counts={"x": 2},
            who=Row(name="root", ids=[1, 2]), note=None),
        Row(id=2, at=None, tags=None, counts=None, who=Row(name="dev", ids=[]), note=None),
    ]
    # A local relation: reading it runs no Python worker (a createDataFrame list plans a
    # Python RDD, scanned through Python tasks by every query).
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert plan.startswith("LocalTableScan"), plan
    assert local_frame(spark, [], schema).count() == 0


def test_naive_timestamps_are_utc_once_the_process_is_pinned(spark: SparkSession) -> None:
    """A driver started in another zone is pinned to UTC: naive values read and collected are UTC,
    and a collected row fed back keeps its instant."""
    try:
        os.environ["TZ"] = "America/Los_Angeles"
        time.tzset()
        pin_process_to_utc()
        df = local_frame(spark, [(datetime(2026, 11, 20, 15, 5),)], "t timestamp")
        assert df.selectExpr("CAST(t AS STRING)").first()[0] == "2026-11-20 15:05:00"
        back = local_frame(spark, [df.first()], "t timestamp")
        assert utc(back.first()["t"]) == datetime(2026, 11, 20, 15, 5, tzinfo=UTC)
    finally:
        os.environ["TZ"] = "UTC"
        time.tzset()
