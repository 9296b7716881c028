"""Reading what changed in ``gold/incidents`` or ``gold/alerts`` from their Change Data Feed:
the state of every changed row at every table version after a cursor."""

from __future__ import annotations

import json
import logging
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.lakehouse import ALERTS, CHANGE_FEED, INCIDENTS
from schemas.alerts import UNDELIVERED_STATUSES

log = logging.getLogger("trailwarden.notify")

# What the destinations read of each source, as SQL over the table's columns.
COLUMNS = {
    INCIDENTS.name: [
        "incident_id AS object_id", "status", "severity", "title", "principal_arn",
        "access_key_id", "account_id", "started_at", "alert_time", "last_seen", "alert_count",
        "detection_names", "entities", "mitre_tactics", "mitre_techniques",
        "transform(scope.source_ips, s -> s.ip) AS source_ips",
        "array_distinct(flatten(transform(activity, a -> a.user_agents))) AS user_agents",
        "scope.accounts AS accounts", "scope.regions AS regions", "actions_total",
        "actions_done", "fixed_at", "resolved_at", "resolved_by", "merged_into",
    ],
    ALERTS.name: [
        "alert_id AS object_id", "status", "severity", "title", "detection_name",
        "principal_arn", "access_key_id", "account_id", "region", "alert_time", "first_seen",
        "last_seen", "event_count", "source_ips", "entities", "mitre_tactics",
        "mitre_techniques",
    ],
}


def table(spark: SparkSession, path: str) -> DeltaTable | None:
    return DeltaTable.forPath(spark, path) if DeltaTable.isDeltaTable(spark, path) else None


def current_version(source: DeltaTable) -> int:
    return int(source.history(1).select("version").collect()[0][0])


def ensure_change_feed(spark: SparkSession, path: str) -> bool:
    """Turn the Change Data Feed on for the table at ``path`` unless it is; True when turned on."""
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").select("properties").collect()[0][0]
    if (detail or {}).get("delta.enableChangeDataFeed") == "true":
        return False
    props = ", ".join(f"'{k}' = '{v}'" for k, v in CHANGE_FEED.items())
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({props})")
    log.info("notify: Change Data Feed turned on for %s", path)
    return True


def change_feed_start(source: DeltaTable) -> int:
    """The version from which the feed is continuous: the newest commit that turned it on (at
    creation or by ALTER TABLE), or the oldest version still in the log."""
    rows = source.history().select("version", "operation", "operationParameters").collect()
    enabled = [
        r["version"] for r in rows
        if r["operation"] in ("CREATE TABLE", "CREATE OR REPLACE TABLE", "SET TBLPROPERTIES")
        and json.loads((r["operationParameters"] or {}).get("properties") or "{}").get(
            "delta.enableChangeDataFeed") == "true"
    ]
    return int(max(enabled) if enabled else min(r["version"] for r in rows))


# The rows of each source that are delivered (suppressed and dry-run alerts never are).
DELIVERED = {
    INCIDENTS.name: "true",
    ALERTS.name: "status NOT IN (" + ", ".join(f"'{s}'" for s in UNDELIVERED_STATUSES) + ")",
}


def _select(df: DataFrame, source: str) -> DataFrame:
    return df.where(DELIVERED[source]).selectExpr(*COLUMNS[source], "_version")


def read_states(
    spark: SparkSession, path: str, source: str, after: int, until: int, snapshot: bool
) -> list[dict[str, Any]]:
    """Each row's state after every commit in (``after``, ``until``] (inserts and update
    post-images), plus, when ``snapshot``, the whole table as of ``after``; ordered by version.

    Rows carry ``_version``, the table version of that state."""
    parts = []
    if snapshot:
        at = spark.read.format("delta").option("versionAsOf", after).load(path)
        parts.append(_select(at.withColumn("_version", F.lit(after).cast("long")), source))
    if until > after:
        changes = (
            spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", after + 1)
            .option("endingVersion", until)
            .load(path)
            .where(F.col("_change_type").isin("insert", "update_postimage"))
            .withColumn("_version", F.col("_commit_version"))
        )
        parts.append(_select(changes, source))
    if not parts:
        return []
    frame = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    rows = [r.asDict(recursive=True) for r in frame.collect()]
    return sorted(rows, key=lambda r: (r["_version"], r["object_id"]))
