"""Route 53 Resolver query logs: the source spec, JSON lines -> ``silver/dns_queries`` rows, and
the view columns detections read (``query_domain``, ``answer_names``, ``answer_ips``).

AWS delivers them to S3 under ``AWSLogs/<account>/vpcdnsquerylogs/<vpc-id>/YYYY/MM/DD/`` as
gzip files of one JSON object per line. Every line is a record of its own: a malformed line is
quarantined with its reason and the lines around it are kept. Transforms are pure.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.delta import Table
from jobs.sources.base import LogSource
from jobs.sources.readers import read_whole_files
from schemas.dns import DNS_QUERIES, DNS_QUERIES_VIEW_EXTRA, RAW_QUERY

# The fields of a record that make it unique, in the documented order (the key hashes them).
_IDENTITY = (
    "q.version", "q.account_id", "q.region", "q.vpc_id", "q.query_timestamp", "q.query_name",
    "q.query_type", "q.query_class", "q.rcode", "to_json(q.answers)", "q.srcaddr", "q.srcport",
    "q.transport", "q.srcids.instance", "q.srcids.resolver_endpoint", "q.firewall_rule_action",
    "q.firewall_rule_group_id", "q.firewall_domain_list_id",
)


def split_lines(files: DataFrame, raw_max_chars: int) -> DataFrame:
    """Split whole files into lines, one record each.

    In: ``source_file``, ``value``. Out: ``source_file``, ``record_index`` (1-based line
    number), ``record`` and ``file_reason`` (set on the single row standing for an empty file).
    Blank lines are not records.
    """
    items = F.expr(
        f"""CASE WHEN value RLIKE '^\\\\s*$'
          THEN array(named_struct('record_index', CAST(NULL AS BIGINT),
              'record', left(value, {int(raw_max_chars)}), 'file_reason', 'empty file'))
          ELSE filter(transform(split(value, '\\r?\\n'), (l, i) -> named_struct(
              'record_index', CAST(i + 1 AS BIGINT), 'record', l,
              'file_reason', CAST(NULL AS STRING))), x -> trim(x.record) != '')
        END"""
    )
    return files.select("source_file", F.inline(items))


def record_reason() -> Column:
    """Why a parsed line (``q``, its text ``record``) cannot be a query (null when it can)."""
    return F.expr(
        """CASE
          WHEN NOT startswith(ltrim(record), '{') THEN 'record is not a JSON object'
          WHEN q.query_timestamp IS NULL AND try_parse_json(record) IS NULL
            THEN 'record is not valid JSON'
          WHEN q.query_timestamp IS NULL THEN 'missing query_timestamp'
          WHEN try_cast(q.query_timestamp AS TIMESTAMP) IS NULL
            THEN 'query_timestamp does not parse'
          WHEN q.query_name IS NULL OR trim(q.query_name) = '' THEN 'missing query_name'
          WHEN q.srcport IS NOT NULL AND try_cast(q.srcport AS INT) IS NULL
            THEN 'srcport is not a number'
          WHEN NOT try_cast(q.srcport AS INT) BETWEEN 0 AND 65535 THEN 'srcport out of range'
        END"""
    )


def normalize_queries(records: DataFrame, run_id: str, ingested_at: Column) -> DataFrame:
    """Type query-log records.

    In: ``source_file``, ``record_index``, ``record``, ``file_reason``. Out: the
    ``silver/dns_queries`` columns plus ``record`` and ``reason`` (null for a good query; a
    file-level reason wins). ``record`` is set on rows with a reason only: a good query's text
    is its ``record_json``.
    """
    parsed = records.withColumn("q", F.from_json("record", RAW_QUERY))
    query_time = F.expr("try_cast(q.query_timestamp AS TIMESTAMP)")
    key = F.concat_ws("\u001f", *[F.coalesce(F.expr(e), F.lit("")) for e in _IDENTITY])
    cols = {
        "query_id": F.sha2(key, 256),
        "version": F.col("q.version"),
        "account_id": F.col("q.account_id"),
        "region": F.col("q.region"),
        "vpc_id": F.col("q.vpc_id"),
        "query_time": query_time,
        "query_name": F.col("q.query_name"),
        "query_type": F.col("q.query_type"),
        "query_class": F.col("q.query_class"),
        "rcode": F.col("q.rcode"),
        "answers": F.expr(
            "transform(q.answers, a -> named_struct('rdata', a.Rdata, 'type', a.Type,"
            " 'class', a.Class))"
        ),
        "srcaddr": F.col("q.srcaddr"),
        "srcport": F.expr("try_cast(q.srcport AS INT)"),
        "transport": F.col("q.transport"),
        "instance_id": F.col("q.srcids.instance"),
        "resolver_endpoint_id": F.col("q.srcids.resolver_endpoint"),
        "firewall_rule_action": F.col("q.firewall_rule_action"),
        "firewall_rule_group_id": F.col("q.firewall_rule_group_id"),
        "firewall_domain_list_id": F.col("q.firewall_domain_list_id"),
        "record_json": F.col("record"),
        "event_date": F.to_date(query_time),
        "source_file": F.col("source_file"),
        "record_index": F.col("record_index"),
        "ingested_at": ingested_at,
        "run_id": F.lit(run_id),
    }
    typed = [cols[f.name].cast(f.dataType.simpleString()).alias(f.name) for f in DNS_QUERIES.fields]
    reason = F.coalesce(F.col("file_reason"), record_reason())
    record = F.when(reason.isNotNull(), F.col("record"))
    return parsed.select(*typed, record.alias("record"), reason.alias("reason"))


def _domain(name: str) -> str:
    """SQL: the DNS name ``name`` lower-cased, without the root's trailing dot."""
    return f"lower(regexp_replace({name}, '[.]+$', ''))"


def with_dns_extras(queries: DataFrame) -> DataFrame:
    """Add ``query_domain``, ``answer_names`` (CNAME targets, as domains) and ``answer_ips``
    (A and AAAA data). In: ``query_name``, ``answers``."""
    names = "filter(coalesce(answers, array()), a -> upper(a.type) = 'CNAME')"
    ips = "filter(coalesce(answers, array()), a -> upper(a.type) IN ('A', 'AAAA'))"
    return queries.withColumns({
        "query_domain": F.expr(_domain("query_name")),
        "answer_names": F.expr(f"transform({names}, a -> {_domain('a.rdata')})"),
        "answer_ips": F.expr(f"transform({ips}, a -> trim(a.rdata))"),
    })


def parse(
    spark: SparkSession, paths: list[str], raw_max: int, run_id: str, ingested_at: Column
) -> DataFrame:
    """Resolver query-log files (JSON lines) -> typed rows."""
    return normalize_queries(split_lines(read_whole_files(spark, paths), raw_max), run_id,
                             ingested_at)


DNS = LogSource(
    name="dns",
    id_prefix="DN",
    path_markers=("/vpcdnsquerylogs/",),
    table=Table("silver/dns_queries", DNS_QUERIES, ("event_date",)),
    key="query_id",
    raw_column="record_json",
    raw_is_json=True,
    parse=parse,
    view="dns_queries",
    time_expression="query_time",
    case_time_column="query_time",
    view_extras=DNS_QUERIES_VIEW_EXTRA,
    add_view_columns=with_dns_extras,
    heavy_columns=("record_json",),
    json_columns=("record_json",),
    time_columns=("query_time",),
    earliest_time="2020-01-01",  # the year the service launched
)
