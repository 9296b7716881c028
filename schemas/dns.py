"""Route 53 Resolver query logs: the record as delivered to S3 (one JSON object per line) and
``silver/dns_queries``.

Field names are AWS's ("Values that appear in VPC Resolver query logs", Route 53 Developer
Guide). Scalars are read as strings and typed with ``try_cast``; the whole record is kept as
``record_json`` so fields a later log version adds are not lost.
"""

from pyspark.sql.types import (
    ArrayType,
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _strings(*names: str) -> list[StructField]:
    return [StructField(n, StringType()) for n in names]


RAW_ANSWER = StructType(_strings("Rdata", "Type", "Class"))

RAW_QUERY = StructType(
    _strings(
        "version", "account_id", "region", "vpc_id", "query_timestamp", "query_name",
        "query_type", "query_class", "rcode",
    )
    + [StructField("answers", ArrayType(RAW_ANSWER))]
    + _strings("srcaddr", "srcport", "transport")
    + [StructField("srcids", StructType(_strings("instance", "resolver_endpoint")))]
    + _strings("firewall_rule_action", "firewall_rule_group_id", "firewall_domain_list_id")
)

# One answer as stored: the record's Rdata, Type and Class under lower-case names.
ANSWER = StructType(_strings("rdata", "type", "class"))

DNS_QUERIES = StructType(
    [
        StructField("query_id", StringType(), False),
        StructField("version", StringType()),
        StructField("account_id", StringType()),
        StructField("region", StringType()),
        StructField("vpc_id", StringType()),
        StructField("query_time", TimestampType()),
        StructField("query_name", StringType()),
        StructField("query_type", StringType()),
        StructField("query_class", StringType()),
        StructField("rcode", StringType()),
        StructField("answers", ArrayType(ANSWER)),
        StructField("srcaddr", StringType()),
        StructField("srcport", IntegerType()),
        StructField("transport", StringType()),
        StructField("instance_id", StringType()),
        StructField("resolver_endpoint_id", StringType()),
        StructField("firewall_rule_action", StringType()),
        StructField("firewall_rule_group_id", StringType()),
        StructField("firewall_domain_list_id", StringType()),
        StructField("record_json", StringType()),
        StructField("event_date", DateType(), False),
        StructField("source_file", StringType(), False),
        StructField("record_index", LongType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)

# Columns the ``dns_queries`` view adds: names lower-cased without the root dot, the CNAME
# targets and the addresses (A and AAAA data) of the answers.
DNS_QUERIES_VIEW_EXTRA = StructType(
    [
        StructField("query_domain", StringType()),
        StructField("answer_names", ArrayType(StringType())),
        StructField("answer_ips", ArrayType(StringType())),
    ]
)
