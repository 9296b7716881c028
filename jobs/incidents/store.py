"""The thin I/O edge of the incident jobs: reading inputs, MERGEing incidents, metrics, reports."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import lakehouse as tables
from jobs.detect.views import empty_frame
from jobs.runtime.frames import local_frame
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.incidents import INCIDENTS, RESPONSE_METRICS
from schemas.vpcflow import VPC_FLOWS

log = logging.getLogger("trailwarden.incidents")

ALERTS_TABLE = "gold/alerts"
INCIDENTS_TABLE = "gold/incidents"
METRICS_TABLE = "gold/response_metrics"
REPORTS_DIR = "reports"
INCIDENTS_PROPERTIES = {"delta.enableChangeDataFeed": "true"}
INCIDENT_ID = re.compile(r"INC-[0-9]{8}-[0-9a-f]{10}")


def check_incident_id(value: str) -> str:
    """``value`` when it is an incident id (``INC-yyyymmdd-<10 hex>``), else a ValueError."""
    if not INCIDENT_ID.fullmatch(value or ""):
        raise ValueError(f"{value!r} is not an incident id such as INC-20261120-0123456789.")
    return value


def path(lakehouse: str, name: str) -> str:
    return tables.table_path(lakehouse, name)


def read_optional(spark: SparkSession, lakehouse: str, name: str) -> DataFrame | None:
    """The Delta table ``name`` under the lakehouse, or None when it does not exist yet."""
    p = path(lakehouse, name)
    return spark.read.format("delta").load(p) if DeltaTable.isDeltaTable(spark, p) else None


def read_silver(spark: SparkSession, lakehouse: str) -> tuple[DataFrame, DataFrame]:
    """Silver CloudTrail and flow records (empty frames of the contract when absent)."""
    ct = read_optional(spark, lakehouse, tables.CLOUDTRAIL)
    flows = read_optional(spark, lakehouse, tables.VPC_FLOWS_TABLE)
    return (
        ct if ct is not None else empty_frame(spark, CLOUDTRAIL_EVENTS),
        flows if flows is not None else empty_frame(spark, VPC_FLOWS),
    )


def incidents_table(spark: SparkSession, lakehouse: str) -> DeltaTable:
    """``gold/incidents``, created with its contract and the Change Data Feed on (which notify
    reads) unless it exists."""
    return tables.ensure_table(
        spark, path(lakehouse, INCIDENTS_TABLE), INCIDENTS, None, INCIDENTS_PROPERTIES
    )


def merge_incidents(spark: SparkSession, lakehouse: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """MERGE ``rows`` (INCIDENTS-shaped dicts) on ``incident_id``; return rows written."""
    target = incidents_table(spark, lakehouse)
    if not rows:
        return 0
    batch = local_frame(spark, rows, INCIDENTS)
    (
        target.alias("t")
        .merge(batch.alias("s"), "t.incident_id = s.incident_id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    return len(rows)


def load_incidents(
    spark: SparkSession, lakehouse: str, incident_id: str | None = None
) -> list[dict[str, Any]]:
    """Incident rows as dicts (all, or the one with ``incident_id``)."""
    df = incidents_table(spark, lakehouse).toDF()
    if incident_id:
        df = df.where(F.col("incident_id") == check_incident_id(incident_id))
    return [r.asDict(recursive=True) for r in df.collect()]


def set_status(
    spark: SparkSession,
    lakehouse: str,
    incident_id: str,
    status: str,
    by: str,
    note: str | None,
    now: datetime,
) -> None:
    """Acknowledge or resolve an incident by hand (a Delta UPDATE of that row)."""
    check_incident_id(incident_id)
    table = incidents_table(spark, lakehouse)
    if table.toDF().where(F.col("incident_id") == incident_id).limit(1).count() == 0:
        raise ValueError(f"no incident {incident_id} in {path(lakehouse, INCIDENTS_TABLE)}.")
    prefix = "acknowledged" if status == "acknowledged" else "resolved"
    values = {
        f"{prefix}_at": F.lit(now).cast("timestamp"),
        f"{prefix}_by": F.lit(by),
        "updated_at": F.lit(now).cast("timestamp"),
    }
    if status == "resolved":
        values["status"] = F.lit("resolved")
        values["resolution_note"] = F.lit(note)
    else:  # acknowledging never downgrades a fixed or resolved incident
        values["status"] = F.expr(
            "CASE WHEN status IN ('fixed', 'resolved') THEN status ELSE 'acknowledged' END"
        )
    table.update(F.col("incident_id") == incident_id, values)


def write_metrics(spark: SparkSession, lakehouse: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """MERGE metric rows on (run_id, severity) into ``gold/response_metrics``."""
    target = tables.ensure_table(spark, path(lakehouse, METRICS_TABLE), RESPONSE_METRICS)
    if not rows:
        return
    batch = local_frame(spark, rows, RESPONSE_METRICS)
    (
        target.alias("t")
        .merge(batch.alias("s"), "t.run_id = s.run_id AND t.severity = s.severity")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )


def write_text(lakehouse: str, relative: str, text: str, conf: Mapping[str, Any]) -> str:
    """Write ``text`` to ``<lakehouse>/<relative>`` (local path or s3a:// via boto3); return it."""
    target = f"{lakehouse.rstrip('/')}/{relative}"
    if target.startswith(("s3a://", "s3://")):
        from jobs.runtime.aws import s3_client

        bucket, _, key = target.split("://", 1)[1].partition("/")
        s3_client(dict(conf)).put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
    else:
        out = Path(target)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return target
