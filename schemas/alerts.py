"""Gold contracts: ``gold/alerts``, ``gold/detection_runs`` and the first-seen baselines.

Also the contract between a detection's SQL and the runner (``DETECTION_OUTPUT_REQUIRED``).
"""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from schemas.severities import SEVERITIES as SEVERITIES  # re-exported; defined there

ENTITY = StructType([StructField("type", StringType()), StructField("value", StringType())])

EVIDENCE = StructType(
    [
        StructField("id", StringType()),
        StructField("source_file", StringType()),
        StructField("record_index", LongType()),
    ]
)

ALERTS = StructType(
    [
        StructField("alert_id", StringType(), False),
        StructField("detection_id", StringType(), False),
        StructField("detection_name", StringType(), False),
        StructField("title", StringType(), False),
        StructField("severity", StringType(), False),
        StructField("mitre_techniques", ArrayType(StringType()), False),
        StructField("mitre_tactics", ArrayType(StringType()), False),
        StructField("window_start", TimestampType(), False),
        StructField("first_seen", TimestampType(), False),
        StructField("last_seen", TimestampType(), False),
        StructField("alert_time", TimestampType(), False),
        StructField("created_at", TimestampType(), False),
        StructField("updated_at", TimestampType(), False),
        StructField("event_count", LongType(), False),
        StructField("account_id", StringType()),
        StructField("region", StringType()),
        StructField("principal_arn", StringType()),
        StructField("access_key_id", StringType()),
        StructField("source_ips", ArrayType(StringType()), False),
        StructField("entities", ArrayType(ENTITY), False),
        StructField("evidence", ArrayType(EVIDENCE), False),
        StructField("status", StringType(), False),
        StructField("run_id", StringType(), False),
        StructField("fingerprint", StringType(), False),
    ]
)

# One row per detection, event-time window and run that evaluated it.
DETECTION_RUNS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("mode", StringType(), False),
        StructField("detection_id", StringType(), False),
        StructField("detection_name", StringType(), False),
        StructField("detection_hash", StringType(), False),
        StructField("window_start", TimestampType(), False),
        StructField("window_end", TimestampType(), False),
        StructField("is_final", BooleanType(), False),
        StructField("reason", StringType(), False),
        StructField("input_versions", MapType(StringType(), LongType()), False),
        StructField("input_watermarks", MapType(StringType(), TimestampType()), False),
        StructField("alerts", LongType(), False),
        StructField("evaluated_at", TimestampType(), False),
    ]
)

# First-seen baselines: one table, one row per (kind, subject, value).
BASELINES = StructType(
    [
        StructField("kind", StringType(), False),
        StructField("subject", StringType(), False),
        StructField("value", StringType(), False),
        StructField("first_seen", TimestampType(), False),
        StructField("last_seen", TimestampType(), False),
        StructField("updated_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)



# Every detection's SQL returns one row per piece of evidence with at least these columns.
DETECTION_OUTPUT_REQUIRED = {
    "event_time": "timestamp",
    "evidence_id": "string",
    "source_file": "string",
    "record_index": "bigint",
}
# Optional columns with a fixed meaning (any other column may feed title, dedupe keys, entities).
DETECTION_OUTPUT_OPTIONAL = {
    "severity": "string",
    "alert_time": "timestamp",
    "account_id": "string",
    "region": "string",
    "principal_arn": "string",
    "access_key_id": "string",
    "source_ip": "string",
}
