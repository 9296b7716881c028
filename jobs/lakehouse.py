"""Every table under the lakehouse root: its path and contract, silver to gold to ``_system``.

Silver tables come from the log sources (``jobs.sources``); the others are declared here. Relative
paths are part of the interface (docs/tables.md).
"""

from __future__ import annotations

from jobs.runtime.delta import Table
from jobs.sources import SOURCES
from schemas.alerts import ALERTS as ALERTS_SCHEMA
from schemas.alerts import BASELINES as BASELINES_SCHEMA
from schemas.alerts import DETECTION_HEALTH as DETECTION_HEALTH_SCHEMA
from schemas.alerts import DETECTION_RUNS as DETECTION_RUNS_SCHEMA
from schemas.incidents import INCIDENTS as INCIDENTS_SCHEMA
from schemas.incidents import RESPONSE_METRICS as RESPONSE_METRICS_SCHEMA
from schemas.system import DELIVERIES as DELIVERIES_SCHEMA
from schemas.system import DISCOVERY_RUNS as DISCOVERY_RUNS_SCHEMA
from schemas.system import DQ_RESULTS as DQ_RESULTS_SCHEMA
from schemas.system import INCIDENT_RUNS as INCIDENT_RUNS_SCHEMA
from schemas.system import INGEST_RUNS as INGEST_RUNS_SCHEMA
from schemas.system import INGESTED_FILES as INGESTED_FILES_SCHEMA
from schemas.system import QUARANTINE as QUARANTINE_SCHEMA

CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}

SILVER: tuple[Table, ...] = tuple(s.table for s in SOURCES)

QUARANTINE = Table("quarantine", QUARANTINE_SCHEMA)
INGESTED_FILES = Table("_system/ingested_files", INGESTED_FILES_SCHEMA)
INGEST_RUNS = Table("_system/ingest_runs", INGEST_RUNS_SCHEMA)
DQ_RESULTS = Table("_system/dq_results", DQ_RESULTS_SCHEMA)
DISCOVERY_RUNS = Table("_system/discovery_runs", DISCOVERY_RUNS_SCHEMA)
DELIVERIES = Table("_system/deliveries", DELIVERIES_SCHEMA)
INCIDENT_RUNS = Table("_system/incident_runs", INCIDENT_RUNS_SCHEMA)

ALERTS = Table("gold/alerts", ALERTS_SCHEMA, properties=CHANGE_FEED)
DETECTION_RUNS = Table("gold/detection_runs", DETECTION_RUNS_SCHEMA)
DETECTION_HEALTH = Table("gold/detection_health", DETECTION_HEALTH_SCHEMA)
BASELINES = Table("gold/baselines/first_seen", BASELINES_SCHEMA, ("kind",))
INCIDENTS = Table("gold/incidents", INCIDENTS_SCHEMA, properties=CHANGE_FEED)
RESPONSE_METRICS = Table("gold/response_metrics", RESPONSE_METRICS_SCHEMA)

# What ingest creates before its first write (_system/discovery_runs: on its first S3 run).
INGEST_TABLES: tuple[Table, ...] = SILVER + (QUARANTINE, INGESTED_FILES, INGEST_RUNS, DQ_RESULTS)
TABLES: tuple[Table, ...] = INGEST_TABLES + (
    ALERTS, DETECTION_RUNS, DETECTION_HEALTH, BASELINES, INCIDENTS, RESPONSE_METRICS, DELIVERIES,
    INCIDENT_RUNS, DISCOVERY_RUNS,
)


def by_name(name: str) -> Table:
    """The table at relative path ``name``; an unknown one is an error naming the known ones."""
    for table in TABLES:
        if table.name == name:
            return table
    raise ValueError(f"Unknown table {name!r}; known: {', '.join(t.name for t in TABLES)}.")
