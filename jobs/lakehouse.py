"""Where the tables live under the lakehouse root, and creating them with their contract."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.guardduty import GUARDDUTY_FINDINGS
from schemas.system import DQ_RESULTS, INGEST_RUNS, INGESTED_FILES, QUARANTINE
from schemas.vpcflow import VPC_FLOWS

# Relative paths are part of the interface (docs/tables.md).
CLOUDTRAIL = "silver/cloudtrail_events"
VPC_FLOWS_TABLE = "silver/vpc_flows"
GUARDDUTY = "silver/guardduty_findings"
QUARANTINE_TABLE = "quarantine"
INGESTED_FILES_TABLE = "_system/ingested_files"
INGEST_RUNS_TABLE = "_system/ingest_runs"
DQ_RESULTS_TABLE = "_system/dq_results"

# name -> (schema, partition columns)
CONTRACTS: dict[str, tuple[StructType, list[str]]] = {
    CLOUDTRAIL: (CLOUDTRAIL_EVENTS, ["event_date"]),
    VPC_FLOWS_TABLE: (VPC_FLOWS, ["event_date"]),
    GUARDDUTY: (GUARDDUTY_FINDINGS, ["event_date"]),
    QUARANTINE_TABLE: (QUARANTINE, []),
    INGESTED_FILES_TABLE: (INGESTED_FILES, []),
    INGEST_RUNS_TABLE: (INGEST_RUNS, []),
    DQ_RESULTS_TABLE: (DQ_RESULTS, []),
}


def table_path(lakehouse: str, name: str) -> str:
    """The URI of table ``name`` under the lakehouse root."""
    return f"{lakehouse.rstrip('/')}/{name}"


def ensure_table(
    spark: SparkSession,
    path: str,
    schema: StructType,
    partition_by: list[str] | None = None,
    properties: dict[str, str] | None = None,
) -> DeltaTable:
    """Create the Delta table at ``path`` with ``schema`` unless it exists; return it."""
    builder = DeltaTable.createIfNotExists(spark).location(path).addColumns(schema)
    if partition_by:
        builder = builder.partitionedBy(*partition_by)
    for key, value in (properties or {}).items():
        builder = builder.property(key, value)
    return builder.execute()


def ensure_contract(spark: SparkSession, lakehouse: str, name: str) -> DeltaTable:
    """Create table ``name`` from ``CONTRACTS`` unless it exists; return it."""
    schema, partition_by = CONTRACTS[name]
    return ensure_table(spark, table_path(lakehouse, name), schema, partition_by)
