"""Gold contracts: ``gold/alerts``, ``gold/detection_runs`` and the first-seen baselines.

Also the contract between a detection's SQL and the runner (``DETECTION_OUTPUT_REQUIRED``).
"""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
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
        # Added after the first release: nullable, so older tables gain them by ALTER TABLE
        # (jobs.runtime.delta.Table.ensure). The exception that suppressed the alert; a hash of the
        # detection id and dedupe values without the window (what suppress_for folds on); the
        # event count of every window folded into the alert.
        StructField("exception_id", StringType()),
        StructField("dedupe_key", StringType()),
        StructField("window_counts", MapType(TimestampType(), LongType())),
    ]
)

# Alert statuses the runner sets: ``open``; ``suppressed`` (an exception matched) and ``dry_run``
# (the detection's mode) are written but never delivered or grouped into incidents.
UNDELIVERED_STATUSES = ("suppressed", "dry_run")

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

# One row per detection and detect run: what it evaluated, how long it took, what it raised.
DETECTION_HEALTH = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("detection_id", StringType(), False),
        StructField("detection_name", StringType(), False),
        StructField("mode", StringType(), False),
        StructField("windows_evaluated", LongType(), False),
        StructField("windows_late", LongType(), False),
        StructField("rows_read", LongType(), False),
        StructField("run_seconds", DoubleType(), False),
        StructField("alerts_new", LongType(), False),
        StructField("alerts_updated", LongType(), False),
        StructField("alerts_suppressed", LongType(), False),
        StructField("alerts_dry_run", LongType(), False),
        StructField("error", StringType()),
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
