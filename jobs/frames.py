"""Computing a DataFrame once for many readers, and combining frames of one schema."""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import DataFrame


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
