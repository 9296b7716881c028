"""Building small frames from driver-side rows, computing a DataFrame once for many readers,
and combining frames of one schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import reduce
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import ArrayType, DataType, MapType, StructType, TimestampType

from jobs.runtime.times import utc


def local_frame(spark: SparkSession, rows: Iterable[Any], schema: StructType | str) -> DataFrame:
    """A DataFrame of ``rows`` (tuples in ``schema``'s column order, or mappings by name).

    The rows go to the JVM as Arrow and the plan is a local relation, so running it needs no
    Python worker process. ``spark.createDataFrame(list)`` plans a Python RDD instead: every
    query that reads such a frame starts Python tasks again (in the detection test cases, the
    Python workers used 40% as much CPU as the JVM).
    """
    struct = DataType.fromDDL(schema) if isinstance(schema, str) else schema
    assert isinstance(struct, StructType)
    table = pa.Table.from_pylist(
        [_arrow_value(row, struct) for row in rows], schema=to_arrow_schema(struct)
    )
    return spark.createDataFrame(table, struct)


def _arrow_value(value: Any, dtype: DataType) -> Any:
    """``value`` with every struct as a mapping by field name, which Arrow expects, and naive
    timestamps as UTC (``jobs.runtime.times``)."""
    if value is None:
        return None
    if isinstance(dtype, TimestampType) and isinstance(value, datetime) and value.tzinfo is None:
        return utc(value)
    if isinstance(dtype, StructType):
        names = dtype.fieldNames()
        if hasattr(value, "asDict"):
            value = value.asDict()
        items = value if isinstance(value, Mapping) else dict(zip(names, value, strict=True))
        return {f.name: _arrow_value(items.get(f.name), f.dataType) for f in dtype.fields}
    if isinstance(dtype, ArrayType):
        return [_arrow_value(v, dtype.elementType) for v in value]
    if isinstance(dtype, MapType):
        return {k: _arrow_value(v, dtype.valueType) for k, v in value.items()}
    return value


def materialize(df: DataFrame) -> DataFrame:
    """``df`` computed now and kept on the executors (memory, spilling to disk), behind a plan
    that is only a scan of the kept rows.

    Queries built on the result are analyzed and optimized against that scan instead of ``df``'s
    whole plan; with a dozen queries over the same enriched frame, planning the long plan again
    for each cost more than running them on small data. Kept rows are not recomputed if an
    executor is lost (the job fails and a rerun starts over). Free them with :func:`release`.
    """
    return df.localCheckpoint(eager=True)


def release(df: DataFrame) -> None:
    """Free the rows :func:`materialize` kept for ``df`` (it can no longer be read)."""
    df._jdf.queryExecution().analyzed().rdd().unpersist(False)


def union_all(frames: Sequence[DataFrame]) -> DataFrame:
    """The rows of ``frames``, which have the same columns in the same order."""
    return reduce(DataFrame.union, frames)
