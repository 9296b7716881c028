"""JSON files -> one row per record: ``{"Records": [...]}``, a JSON array, one object per line, or
CloudWatch Logs envelopes delivered by Firehose (``jobs.sources.envelopes``).

Newline-delimited files cover CloudTrail Lake exports, EventBridge envelopes (unwrapped to their
``detail``) and GuardDuty exports. A CloudTrail digest is recognised and marked to be skipped.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.sources.base import Parser
from jobs.sources.envelopes import is_envelope_file, log_events_sql
from jobs.sources.readers import read_whole_files
from schemas.cloudtrail import DELIVERY_FILE, EVENTBRIDGE_ENVELOPE

SKIPPED_DIGEST = "skipped: CloudTrail digest file"
_ENVELOPE_DDL = ", ".join(f"`{f.name}` STRING" for f in EVENTBRIDGE_ENVELOPE.fields)


def _file_kind(value: Column, records: Column) -> Column:
    first_line = F.substring_index(value, "\n", 1)
    return (
        F.when(value.rlike(r"^\s*$"), F.lit("empty file"))
        .when(is_envelope_file(value), F.lit("envelopes"))
        .when(records.isNotNull(), F.lit("records"))
        .when(value.rlike(r"^\s*\[") & F.from_json(value, "array<string>").isNotNull(),
              F.lit("array"))
        .when(F.get_json_object(value, "$.digestStartTime").isNotNull(), F.lit(SKIPPED_DIGEST))
        .when(
            F.get_json_object(value, "$.Records").isNotNull(),
            F.lit("Records is not an array of events"),
        )
        # Lines are judged one by one: a first line that fails to parse (truncated, nested past
        # the parser's limit) spoils only itself.
        .when(~F.ltrim(first_line).startswith("{"), F.lit("file is not JSON"))
        .otherwise(F.lit("lines"))
    )


def split_records(files: DataFrame, raw_max_chars: int) -> DataFrame:
    """Split whole files into records.

    In: ``source_file``, ``value`` (the file's text). Out: ``source_file``, ``record_index``
    (position in ``Records``, 1-based line number, or position among an envelope file's log
    events), ``record`` (JSON text) and ``file_reason`` (set on the single row that stands for a
    file that has no records to split: empty, not JSON, ``Records`` of the wrong type, or a digest
    to skip; and on an envelope file's rows that are not log events).
    """
    records = F.from_json("value", DELIVERY_FILE)["Records"]
    staged = files.select("source_file", "value", records.alias("_records")).withColumn(
        "_kind", _file_kind(F.col("value"), F.col("_records"))
    )
    unwrap = (
        "CASE WHEN l LIKE '%\"detail-type\"%' "
        f"THEN coalesce(from_json(l, '{_ENVELOPE_DDL}').detail, l) ELSE l END"
    )
    items = F.expr(
        f"""CASE _kind
          WHEN 'records' THEN transform(_records, (r, i) -> named_struct(
              'record_index', CAST(i AS BIGINT), 'record', r, 'file_reason', CAST(NULL AS STRING)))
          WHEN 'array' THEN transform(from_json(value, 'array<string>'), (r, i) -> named_struct(
              'record_index', CAST(i AS BIGINT), 'record', r, 'file_reason', CAST(NULL AS STRING)))
          WHEN 'envelopes' THEN transform(
              {log_events_sql("value", raw_max_chars)}, e -> named_struct(
              'record_index', e.record_index, 'record', e.record, 'file_reason', e.reason))
          WHEN 'lines' THEN filter(transform(split(value, '\\r?\\n'), (l, i) -> named_struct(
              'record_index', CAST(i + 1 AS BIGINT), 'record', {unwrap},
              'file_reason', CAST(NULL AS STRING))), x -> trim(x.record) != '')
          ELSE array(named_struct('record_index', CAST(NULL AS BIGINT),
              'record', left(value, {int(raw_max_chars)}), 'file_reason', _kind))
        END"""
    )
    return staged.select("source_file", F.inline(_or_marker(items)))


def _or_marker(items: Column) -> Column:
    """Stand in one ``skipped: no records`` row for a file whose split gave no rows."""
    marker = F.expr(
        "array(named_struct('record_index', CAST(NULL AS BIGINT), 'record', CAST(NULL AS STRING),"
        " 'file_reason', 'skipped: no records'))"
    )
    return F.when(F.size(items) > 0, items).otherwise(marker)


def json_parser(normalize: Callable[[DataFrame, str, Column], DataFrame]) -> Parser:
    """A source parser for JSON delivery files: read whole files, split them into records,
    then ``normalize(records, run_id, ingested_at)`` types them."""

    def parse(
        spark: SparkSession, paths: list[str], raw_max: int, run_id: str, ingested_at: Column
    ) -> DataFrame:
        return normalize(
            split_records(read_whole_files(spark, paths), raw_max), run_id, ingested_at
        )

    return parse
