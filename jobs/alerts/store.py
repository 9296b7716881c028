"""Writing alerts: a keyed MERGE on ``alert_id`` that rewrites an alert only when its content
(``fingerprint``) changed, so a rerun over the same data leaves ``gold/alerts`` untouched."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.runtime.delta import merge_on_keys
from schemas.alerts import ALERTS

# Kept from the first write: when it was created, what an analyst set, and the status (and
# exception) it was raised with.
PRESERVED = ("created_at", "status", "exception_id")


def changes(existing: DataFrame, alerts: DataFrame) -> DataFrame:
    """``alerts`` with a ``change`` column (``new`` or ``changed``); unchanged alerts dropped."""
    current = existing.select("alert_id", F.col("fingerprint").alias("_old"))
    return (
        alerts.join(current, "alert_id", "left")
        .where(F.col("_old").isNull() | (F.col("_old") != F.col("fingerprint")))
        .withColumn("change", F.when(F.col("_old").isNull(), "new").otherwise("changed"))
        .drop("_old")
    )


def merge_alerts(target: DeltaTable, changed: DataFrame) -> None:
    """MERGE new and changed alerts (from ``changes``) into ``gold/alerts``."""
    updates = {
        f.name: f"s.{f.name}" for f in ALERTS.fields if f.name not in PRESERVED + ("alert_id",)
    }
    merge_on_keys(target, changed.drop("change"), ["alert_id"],
                  update="t.fingerprint <> s.fingerprint", update_set=updates)
