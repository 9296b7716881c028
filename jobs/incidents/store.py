"""The thin I/O edge of the incident jobs: reading inputs, MERGEing incidents, metrics, reports."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.detect.views import empty_frame
from jobs.lakehouse import ALERTS, INCIDENT_RUNS, INCIDENTS, RESPONSE_METRICS
from jobs.runtime.delta import Table, merge_on_keys
from jobs.runtime.frames import local_frame
from jobs.sources import CLOUDTRAIL, DNS, VPCFLOW
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.dns import DNS_QUERIES
from schemas.vpcflow import VPC_FLOWS

log = logging.getLogger("trailwarden.incidents")

REPORTS_DIR = "reports"
INCIDENT_ID = re.compile(r"INC-[0-9]{8}-[0-9a-f]{10}")


def check_incident_id(value: str) -> str:
    """``value`` when it is an incident id (``INC-yyyymmdd-<10 hex>``), else a ValueError."""
    if not INCIDENT_ID.fullmatch(value or ""):
        raise ValueError(f"{value!r} is not an incident id such as INC-20261120-0123456789.")
    return value


def read_optional(spark: SparkSession, lakehouse: str, table: Table) -> DataFrame | None:
    """``table`` under the lakehouse, or None when it does not exist yet."""
    return table.read(spark, lakehouse) if table.exists(spark, lakehouse) else None


def read_silver(spark: SparkSession, lakehouse: str) -> tuple[DataFrame, DataFrame, DataFrame]:
    """Silver CloudTrail, flow and Resolver query records (empty frames of the contract when
    absent); the queries with the view columns detections see (``query_domain``, ...)."""
    ct = read_optional(spark, lakehouse, CLOUDTRAIL.table)
    flows = read_optional(spark, lakehouse, VPCFLOW.table)
    dns = read_optional(spark, lakehouse, DNS.table)
    return (
        ct if ct is not None else empty_frame(spark, CLOUDTRAIL_EVENTS),
        flows if flows is not None else empty_frame(spark, VPC_FLOWS),
        DNS.add_view_columns(dns if dns is not None else empty_frame(spark, DNS_QUERIES)),
    )


INPUTS: tuple[Table, ...] = (ALERTS, CLOUDTRAIL.table, VPCFLOW.table, DNS.table)


def input_versions(spark: SparkSession, lakehouse: str) -> dict[str, int]:
    """Table name -> current Delta version, for each table correlation reads that exists (one
    read of each table's log)."""
    out = {}
    for table in INPUTS:
        if table.exists(spark, lakehouse):
            path = table.path(lakehouse)
            out[table.name] = int(DeltaTable.forPath(spark, path).history(1).first()["version"])
    return out


def settings_key(conf: Mapping[str, Any]) -> str:
    """A fingerprint of the configuration sections that shape incidents and their metrics."""
    sections = {k: conf.get(k) for k in ("incidents", "response")}
    return hashlib.sha256(json.dumps(sections, sort_keys=True, default=str).encode()).hexdigest()


def last_run_inputs(spark: SparkSession, lakehouse: str) -> tuple[dict[str, int], str] | None:
    """The input versions and settings fingerprint of the newest recorded incidents run."""
    if not INCIDENT_RUNS.exists(spark, lakehouse):
        return None
    row = (
        INCIDENT_RUNS.read(spark, lakehouse)
        .orderBy(F.col("finished_at").desc())
        .select("input_versions", "settings")
        .first()
    )
    return None if row is None else (dict(row["input_versions"]), row["settings"])


def record_run(
    spark: SparkSession, lakehouse: str, run_id: str, versions: Mapping[str, int], settings: str,
    written: int, reports: int, now: datetime,
) -> None:
    """Append this run's inputs and what it wrote to ``_system/incident_runs``."""
    INCIDENT_RUNS.ensure(spark, lakehouse)
    row = (run_id, dict(versions), settings, written, reports, now)
    INCIDENT_RUNS.append(local_frame(spark, [row], INCIDENT_RUNS.schema), lakehouse)


def incidents_table(spark: SparkSession, lakehouse: str) -> DeltaTable:
    """``gold/incidents``, created with its contract unless it exists."""
    return INCIDENTS.ensure(spark, lakehouse)


def merge_incidents(spark: SparkSession, lakehouse: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """MERGE ``rows`` (INCIDENTS-shaped dicts) on ``incident_id``; return rows written."""
    target = incidents_table(spark, lakehouse)
    if not rows:
        return 0
    batch = local_frame(spark, rows, INCIDENTS.schema)
    merge_on_keys(target, batch, ["incident_id"], update="true")
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
        raise ValueError(f"no incident {incident_id} in {INCIDENTS.path(lakehouse)}.")
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
    target = RESPONSE_METRICS.ensure(spark, lakehouse)
    if not rows:
        return
    batch = local_frame(spark, rows, RESPONSE_METRICS.schema)
    merge_on_keys(target, batch, ["run_id", "severity"], update="true")


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
