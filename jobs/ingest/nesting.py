"""JSON nesting depth (pure): a record nested deeper than ``ingest.max_nesting`` levels is
quarantined with the reason, and the rest of its file lands.

Spark's JSON parser (Jackson) stops at 1,000 levels: past that, a record reads as not valid
JSON and a ``Records`` file holding it cannot be split; below that, text nested hundreds deep
would land for every later reader (Python's ``json`` gives up near 1,000 levels too).

The depth is measured in Spark SQL on the record's text: escape pairs are removed and strings
blanked first, so brackets inside a string (an attacker's user agent full of ``{``) never
count; then the deepest point of the remaining ``{ [ } ]`` is summed up in chunks of 4,096
brackets, which bounds the memory a hostile line of millions of brackets takes. Only a record
with more opening brackets than the limit, string contents included, can be too deep: the
others are cleared by two byte-wise ``replace`` (``translate``, per character, cost 3 times
more; measuring every record's depth 4 times more).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.sources.base import LogSource


def nesting_reason(max_nesting: int) -> str:
    """The quarantine reason of a record nested deeper than ``max_nesting`` levels."""
    return f"nested deeper than {int(max_nesting)} levels"


def depth_sql(text: str) -> str:
    """SQL for the nesting depth of the JSON text in SQL expression ``text`` (``{}`` is 1, a
    scalar 0), brackets inside strings not counted."""
    unescaped = f"regexp_replace({text}, '\\\\\\\\.', '')"
    no_strings = f"regexp_replace({unescaped}, '\"[^\"]*+\"', '')"
    brackets = f"regexp_replace({no_strings}, '[^\\\\[\\\\]{{}}]', '')"
    step = "IF(c IN ('{', '['), 1, -1)"
    return f"""aggregate(regexp_extract_all({brackets}, '.{{1,4096}}', 0),
        named_struct('d', 0, 'm', 0),
        (acc, chunk) -> aggregate(split(chunk, ''), acc, (a, c) -> named_struct(
            'd', a.d + {step}, 'm', greatest(a.m, a.d + {step})))).m"""


def too_deep_sql(text: str, max_nesting: int) -> str:
    """SQL: whether the JSON text ``text`` is nested deeper than ``max_nesting`` levels; the
    depth is measured only when more than ``max_nesting`` brackets open in it."""
    opens = f"octet_length({text}) - octet_length(replace(replace({text}, '{{', ''), '[', ''))"
    return f"({opens} > {int(max_nesting)} AND {depth_sql(text)} > {int(max_nesting)})"


def limit_nesting(parsed: DataFrame, source: LogSource, max_nesting: int) -> DataFrame:
    """Set ``reason`` to :func:`nesting_reason` on the records of a JSON source nested deeper
    than ``max_nesting``.

    In and out: a parser's output (the silver columns, ``record``, ``reason``); ``record`` is
    filled from ``source.raw_column`` on the rows this rejects. The nesting reason replaces a
    record's own reason (a record too deep to parse also misses its time or id), never a file's
    (``record_index`` null) nor a ``skipped:`` one. Other sources pass unchanged.
    """
    if not source.raw_is_json:
        return parsed
    text = F.coalesce(F.col("record"), F.col(source.raw_column))
    own = F.col("record_index").isNotNull() & ~F.coalesce(
        F.col("reason").startswith("skipped:"), F.lit(False))
    deep = own & F.expr(too_deep_sql("_text", max_nesting))
    reason = F.when(deep, F.lit(nesting_reason(max_nesting))).otherwise(F.col("reason"))
    # One step each: the depth is computed once, not again for ``record``.
    return (parsed.withColumn("_text", text).withColumn("reason", reason)
            .withColumn("record", F.when(F.col("reason").isNotNull(), F.col("_text")))
            .drop("_text"))
