"""The one home of the delivery ledger ``_system/deliveries`` (path and contract) and of the
change-feed sources it follows; moves into the table registry at merge."""

from __future__ import annotations

from pyspark.sql.types import (
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

DELIVERIES_TABLE = "_system/deliveries"
ALERTS_SOURCE = "gold/alerts"
INCIDENTS_SOURCE = "gold/incidents"
CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}

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
        StructField("status", StringType(), False),  # sent | failed | committed (cursor)
        StructField("response", StringType()),
        StructField("error", StringType()),
        StructField("time", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)
