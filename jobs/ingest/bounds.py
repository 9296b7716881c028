"""Event times every source must hold within bounds (pure): a row whose time is before its
service existed or too far ahead of the run is quarantined with the reason."""

from __future__ import annotations

from datetime import datetime, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.runtime.times import parse_time
from jobs.sources.base import LogSource


def bound_times(parsed: DataFrame, source: LogSource, started: datetime, max_future: str,
                future: timedelta) -> DataFrame:
    """Set ``reason`` on rows whose ``source.time_columns`` lie before ``source.earliest_time``
    or more than ``future`` (written ``max_future`` in the reason) after ``started``.

    In and out: a parser's output (the silver columns, ``record``, ``reason``); ``record`` is
    filled from ``source.raw_column`` on the rows this rejects. A row keeps its first reason.
    """
    earliest = parse_time(source.earliest_time)
    checks = []
    for column in source.time_columns:
        value = F.col(column)
        checks += [
            F.when(value < F.lit(earliest), F.lit(f"{column} is before {source.earliest_time}")),
            F.when(value > F.lit(started + future),
                   F.lit(f"{column} is more than {max_future} after the run started")),
        ]
    if not checks:
        return parsed
    reason = F.coalesce(F.col("reason"), *checks)
    record = F.when(reason.isNotNull(), F.coalesce(F.col("record"), F.col(source.raw_column)))
    return parsed.withColumns({"record": record, "reason": reason})
