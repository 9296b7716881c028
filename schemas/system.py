"""Contracts of the bookkeeping tables: quarantine, processed files, run accounting, DQ results."""

from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

QUARANTINE = StructType(
    [
        StructField("quarantine_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("source_file", StringType(), False),
        StructField("record_index", LongType()),
        StructField("reason", StringType(), False),
        StructField("raw", StringType()),
        StructField("quarantined_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)

# One row per version of a landing file that a run has fully processed (written, quarantined or
# skipped), with its own accounting: records_read = rows_written + duplicates + quarantined.
INGESTED_FILES = StructType(
    [
        StructField("path", StringType(), False),
        StructField("source", StringType(), False),
        StructField("size", LongType()),
        StructField("modified_at", TimestampType()),
        StructField("status", StringType(), False),
        StructField("run_id", StringType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("etag", StringType()),  # S3 ETag; null on local disk
        StructField("records_read", LongType()),
        StructField("rows_written", LongType()),
        StructField("duplicates", LongType()),
        StructField("quarantined", LongType()),
        StructField("reason", StringType()),  # why the whole file was quarantined or skipped
    ]
)

# Per run and source: records_read = rows_written + duplicates + quarantined.
INGEST_RUNS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("source", StringType(), False),
        StructField("files", LongType(), False),
        StructField("files_skipped", LongType(), False),
        StructField("records_read", LongType(), False),
        StructField("rows_written", LongType(), False),
        StructField("duplicates", LongType(), False),
        StructField("quarantined", LongType(), False),
        StructField("started_at", TimestampType(), False),
        StructField("finished_at", TimestampType(), False),
        # Items read that are not log records (CloudWatch Logs control messages); null in runs
        # written before the column existed.
        StructField("records_skipped", LongType()),
    ]
)

# One row per ingest run on an s3a:// landing zone: how it found its files (``listing`` or
# ``notifications``), whether it listed everything (the last such run's ``started_at`` decides
# when the next full listing is due), and what the SQS messages held.
DISCOVERY_RUNS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("landing", StringType(), False),
        StructField("mode", StringType(), False),
        StructField("full_listing", BooleanType(), False),
        StructField("files_found", LongType(), False),  # candidates, before the manifest
        StructField("messages", LongType(), False),
        StructField("messages_malformed", LongType(), False),
        StructField("test_events", LongType(), False),
        StructField("records_ignored", LongType(), False),
        StructField("messages_deleted", LongType(), False),
        StructField("started_at", TimestampType(), False),
        StructField("finished_at", TimestampType(), False),
    ]
)

DQ_RESULTS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("table", StringType(), False),
        StructField("check", StringType(), False),
        StructField("action", StringType(), False),
        StructField("success", BooleanType(), False),
        StructField("element_count", LongType()),
        StructField("unexpected_count", LongType()),
        StructField("unexpected_percent", DoubleType()),
        StructField("validated_at", TimestampType(), False),
    ]
)

# One row per attempt to deliver one change to one destination, plus one ``cursor`` row per
# destination and run that moved its cursor (``table_version`` = last version fully delivered).
DELIVERIES = StructType(
    [
        StructField("destination", StringType(), False),
        StructField("source", StringType(), False),  # gold/incidents or gold/alerts
        StructField("object_id", StringType(), False),  # incident_id, alert_id, or '' for cursor
        StructField("action", StringType(), False),  # trigger | update | resolve | alert | cursor
        StructField("delivery_id", StringType(), False),  # the idempotency key sent along
        StructField("table_version", LongType(), False),
        StructField("severity", StringType()),  # the state announced
        StructField("alert_count", LongType()),
        StructField("attempt", IntegerType(), False),
        # sent | failed | rejected | abandoned | pending | committed (the cursor row)
        StructField("status", StringType(), False),
        StructField("response", StringType()),
        StructField("error", StringType()),
        StructField("time", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)

# One row per incidents run that correlated: the Delta version of each table it read and a
# fingerprint of its settings, so that a later run over the same inputs does nothing.
INCIDENT_RUNS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("input_versions", MapType(StringType(), LongType()), False),
        StructField("settings", StringType(), False),  # sha256 of incidents: and response:
        StructField("incidents_written", LongType(), False),
        StructField("reports_written", LongType(), False),
        StructField("finished_at", TimestampType(), False),
    ]
)
