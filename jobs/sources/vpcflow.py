"""VPC Flow Logs: the source spec; text files whose first line names the fields, and the Parquet
delivery.

Fields are mapped by the names in each file's header, never by position or count.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, LongType

from jobs.runtime.delta import Table
from jobs.runtime.frames import union_all
from jobs.runtime.times import parse_time
from jobs.sources.base import LogSource
from jobs.sources.envelopes import is_envelope_file, log_events_sql
from jobs.sources.readers import read_whole_files
from jobs.sources.security_lake import (
    NETWORK_ACTIVITY_MARKER,
    network_activity_flows,
    read_ocsf,
)
from schemas.security_lake import NETWORK_ACTIVITY
from schemas.vpcflow import FIELDS, PARQUET_DELIVERY, VPC_FLOWS, VPC_FLOWS_VIEW_EXTRA, column_name

# The default flow-log format (version 2): the fields of a record delivered to CloudWatch Logs,
# whose messages carry no header.
DEFAULT_FORMAT = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport",
                  "dstport", "protocol", "packets", "bytes", "start", "end", "action", "log-status")
_KNOWN = ", ".join(f"'{f}'" for f in FIELDS)
_RANGES = {"srcport": 65535, "dstport": 65535, "protocol": 255, "tcp-flags": 255}
_ENUMS = {"action": ("ACCEPT", "REJECT"), "log-status": ("OK", "NODATA", "SKIPDATA")}
_LAST_EPOCH_SECOND = 253402300799  # 9999-12-31T23:59:59Z: later values overflow timestamps


def split_lines(files: DataFrame, raw_max_chars: int) -> DataFrame:
    """Split whole text files into data lines, each with its file's header.

    In: ``source_file``, ``value``. Out: ``source_file``, ``header`` (array of field names),
    ``positions`` (per documented field, in ``FIELDS`` order, its 1-based place in the header or
    0; computed once per file so that lines are read by index), ``record_index`` (1-based line
    number), ``line``, ``file_reason`` (set on the single row standing for a file without
    records: empty, a header naming undocumented or repeated fields, or ``skipped:`` for a header
    with no lines after it). A file of CloudWatch Logs envelopes (``jobs.sources.envelopes``)
    gives one line per log event, read with the default format's fields (``DEFAULT_FORMAT``),
    ``record_index`` its position among the file's log events and ``file_reason`` set on the
    envelopes that hold no events.
    """
    lines = F.split("value", r"\r?\n")
    files = files.select(
        "source_file", "value", is_envelope_file(F.col("value")).alias("_envelopes")
    ).select(
        "*",
        F.when(F.col("_envelopes"), F.array(*[F.lit(f) for f in DEFAULT_FORMAT]))
        .otherwise(F.split(F.trim(F.element_at(lines, 1)), " +")).alias("header"),
    )
    envelopes, header = F.col("_envelopes"), F.col("header")
    unknown = F.filter(header, lambda f: ~F.array_contains(F.expr(f"array({_KNOWN})"), f))
    data = F.slice(lines, 2, F.greatest(F.size(lines) - 1, F.lit(1)))
    has_data = F.exists(data, lambda x: F.trim(x) != "")
    reason = (
        F.when(envelopes, F.lit(None))
        .when(F.col("value").rlike(r"^\s*$"), F.lit("empty file"))
        .when(F.size(unknown) > 0, F.concat(F.lit("header names undocumented field(s): "),
                                            F.array_join(unknown, ", ")))
        .when(F.size(F.array_distinct(header)) != F.size(header),
              F.lit("header names a field more than once"))
        .when(~has_data, F.lit("skipped: no records"))
    )
    positions = F.array(*[F.array_position(header, f).cast("int") for f in FIELDS])
    staged = files.select("source_file", "value", "header", positions.alias("positions"),
                          data.alias("_data"), "_envelopes", reason.alias("_file_reason"))
    text_lines = F.expr(
        "filter(transform(_data, (l, i) -> named_struct('record_index', CAST(i + 2 AS BIGINT),"
        " 'line', l, 'reason', CAST(NULL AS STRING))), x -> trim(x.line) != '')"
    )
    whole_file = F.array(F.struct(
        F.lit(None).cast("bigint").alias("record_index"),
        F.left("value", F.lit(int(raw_max_chars))).alias("line"),
        F.col("_file_reason").alias("reason"),
    ))
    items = (
        F.when(F.col("_envelopes"), F.expr(
            f"transform({log_events_sql('value', raw_max_chars)}, e -> named_struct("
            "'record_index', e.record_index, 'line', e.record, 'reason', e.reason))"))
        .when(F.col("_file_reason").isNull(), text_lines)
        .when(~F.col("_file_reason").startswith("skipped:"), whole_file)
        .otherwise(F.array(whole_file[0].withField("line", F.lit(None).cast("string"))))
    )
    return staged.select("source_file", "header", "positions", F.inline(items)).select(
        "source_file", "header", "positions", "record_index", "line",
        F.col("reason").alias("file_reason"),
    )


def _raw_values(values: Column) -> dict[str, Column]:
    """Each documented field's text on the line (null when its file's header lacks it), read
    at the place the header gives it (``positions``), never by searching the header per line."""
    return {
        field: F.get(values, F.element_at("positions", i + 1) - 1)
        for i, field in enumerate(FIELDS)
    }


def _field_checks(raw: dict[str, Column]) -> list[Column]:
    """Reasons a line's fields are wrong, over its raw values and its typed columns (cast once,
    in :func:`parse_lines`)."""
    checks = []
    for field, (_, dtype) in FIELDS.items():
        present = raw[field].isNotNull() & (raw[field] != "-")
        if isinstance(dtype, (IntegerType, LongType)):
            typed = F.col(column_name(field))
            checks.append(F.when(present & typed.isNull(), F.lit(f"{field} is not a number")))
            if field in _RANGES:
                checks.append(
                    F.when(~typed.between(0, _RANGES[field]), F.lit(f"{field} out of range"))
                )
        if field in _ENUMS:
            checks.append(F.when(present & ~raw[field].isin(*_ENUMS[field]),
                                 F.lit(f"{field} is not one of " + "/".join(_ENUMS[field]))))
    return checks


def parse_lines(lines: DataFrame, run_id: str, ingested_at: Column) -> DataFrame:
    """Type flow-log lines.

    In: ``source_file``, ``record_index``, ``header``, ``positions``, ``line``, ``file_reason``
    (as :func:`split_lines` gives them). Out: the ``silver/vpc_flows`` columns plus ``record``
    (the line) and ``reason`` (null for a good record; a file-level reason wins).
    """
    values = F.split(F.trim("line"), " +")
    staged = lines.select(
        "source_file", "record_index", "file_reason", "positions", F.col("line").alias("record"),
        F.size("header").alias("_expected"), F.size(values).alias("_found"),
        F.when(F.size("header") == F.size(values), values).alias("_values"),
    )
    raw = _raw_values(F.col("_values"))
    count_reason = F.when(
        F.col("_values").isNull(),
        F.format_string("expected %d fields, found %d", "_expected", "_found"),
    )
    reasons = F.array_compact(F.array(count_reason, *_field_checks(raw)))
    typed = {
        column_name(field): F.nullif(raw[field], F.lit("-")).try_cast(dtype)
        for field, (_, dtype) in FIELDS.items()
    }
    return _finish(staged.select("*", *[c.alias(n) for n, c in typed.items()]), run_id,
                   ingested_at, F.coalesce(F.col("file_reason"),
                                           F.when(F.size(reasons) > 0,
                                                  F.array_join(reasons, "; "))))


def parse_parquet(
    rows: DataFrame, run_id: str, ingested_at: Column, row_reason: Column | None = None
) -> DataFrame:
    """Type Parquet-delivered records (already columnar, whole numbers as bigint) with the same
    checks as text. In: ``PARQUET_DELIVERY`` columns, ``source_file``, ``record_index``;
    ``row_reason`` is a further reason to reject a row (first when set)."""
    narrow = [f for f, (_, t) in FIELDS.items() if isinstance(t, IntegerType)]
    staged = rows.select(
        "*",
        F.to_json(F.struct(*[column_name(f) for f in FIELDS])).alias("record"),
        *[F.col(column_name(f)).alias(f"_wide_{column_name(f)}") for f in narrow],
    ).withColumns({column_name(f): F.col(column_name(f)).try_cast("int") for f in narrow})
    checks = ([row_reason] if row_reason is not None else []) + [
        F.when(F.col(f"_wide_{column_name(f)}").isNotNull() & F.col(column_name(f)).isNull(),
               F.lit(f"{f} out of range"))
        for f in narrow
    ] + [
        F.when(~F.col(column_name(f)).between(0, top), F.lit(f"{f} out of range"))
        for f, top in _RANGES.items()
    ] + [
        F.when(~F.col(column_name(f)).isin(*allowed),
               F.lit(f"{f} is not one of " + "/".join(allowed)))
        for f, allowed in _ENUMS.items()
    ]
    reasons = F.array_distinct(F.array_compact(F.array(*checks)))
    return _finish(staged, run_id, ingested_at,
                   F.when(F.size(reasons) > 0, F.array_join(reasons, "; ")))


def _epoch(column: str) -> Column:
    """The timestamp of the Unix time ``column``; null outside 1970..9999 (which would overflow)."""
    return F.when(F.col(column).between(0, _LAST_EPOCH_SECOND), F.timestamp_seconds(column))


def _finish(df: DataFrame, run_id: str, ingested_at: Column, reason: Column) -> DataFrame:
    start_time = _epoch("start")
    epoch_checks = [
        F.when(~F.col(c).between(0, _LAST_EPOCH_SECOND),
               F.lit(f"{c} is not a Unix time in the years 1970-9999"))
        for c in ("start", "end")
    ]
    path_date = F.regexp_extract("source_file", r"/(\d{4}/\d{2}/\d{2})/", 1)
    key = F.concat_ws(
        "\u001f", *[F.coalesce(F.col(column_name(f)).cast("string"), F.lit("")) for f in FIELDS]
    )
    cols = {
        "flow_id": F.sha2(key, 256),
        "start_time": start_time,
        "end_time": _epoch("end"),
        "event_date": F.coalesce(
            F.to_date(start_time),
            F.to_date(F.nullif(path_date, F.lit("")), "yyyy/MM/dd"),
            F.to_date(ingested_at),
        ),
        "ingested_at": ingested_at,
        "run_id": F.lit(run_id),
    }
    out = [
        (cols[f.name] if f.name in cols else F.col(f.name))
        .cast(f.dataType.simpleString()).alias(f.name)
        for f in VPC_FLOWS.fields
    ]
    return df.select(*out, "record", F.coalesce(reason, *epoch_checks).alias("reason"))


def read_parquet_flows(spark: SparkSession, paths: list[str]) -> DataFrame:
    """Parquet-delivered flow records with the documented schema, plus lineage columns."""
    return (
        spark.read.schema(PARQUET_DELIVERY)
        .option("ignoreCorruptFiles", "true")
        .parquet(*paths)
        .select(
            "*",
            F.col("_metadata.file_path").alias("source_file"),
            (F.col("_metadata.row_index") + 1).alias("record_index"),
        )
    )


def parse(
    spark: SparkSession, paths: list[str], raw_max: int, run_id: str, ingested_at: Column
) -> DataFrame:
    """Flow-log text files (with header or CloudWatch Logs envelopes), Parquet deliveries and
    Security Lake Network Activity objects -> typed rows."""
    lake = [p for p in paths if NETWORK_ACTIVITY_MARKER in p]
    text = [p for p in paths if not p.endswith(".parquet") and p not in lake]
    parquet = [p for p in paths if p.endswith(".parquet") and p not in lake]
    parts = []
    if text:
        lines = split_lines(read_whole_files(spark, text), raw_max)
        parts.append(parse_lines(lines, run_id, ingested_at))
    if parquet:
        parts.append(parse_parquet(read_parquet_flows(spark, parquet), run_id, ingested_at))
    if lake:
        flows = network_activity_flows(read_ocsf(spark, lake, NETWORK_ACTIVITY))
        parts.append(parse_parquet(flows, run_id, ingested_at, F.when(
            F.col("not_network_activity"),
            F.lit("OCSF row is not Network Activity (class_uid 4001)"))))
    return union_all(parts)


def complete_case_row(row: dict[str, Any]) -> dict[str, Any]:
    """A detection test row with ``start``, ``end`` and ``end_time`` derived from ``start_time``."""
    if not row.get("start_time"):
        return row
    start = parse_time(str(row["start_time"]))
    return {"start": int(start.timestamp()), "end": int(start.timestamp()) + 60,
            "end_time": start.replace(second=0).isoformat(), **row}


VPCFLOW = LogSource(
    name="vpcflow",
    id_prefix="VF",
    path_markers=("/vpcflowlogs/", "/aws-service=vpcflowlogs/", NETWORK_ACTIVITY_MARKER),
    table=Table("silver/vpc_flows", VPC_FLOWS, ("event_date",)),
    key="flow_id",
    raw_column="record",
    parse=parse,
    view="vpc_flows",
    time_expression="start_time",
    case_time_column="start_time",
    view_extras=VPC_FLOWS_VIEW_EXTRA,
    asn_lookups=(("dstaddr", "dst_"),),
    complete_case_row=complete_case_row,
    time_columns=("start_time", "end_time"),
    # The service launched in 2015; AWS's own documented example records carry December 2014.
    earliest_time="2014-01-01",
)
