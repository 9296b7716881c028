"""Small ``gold/incidents`` rows for the delivery tests, and running notify in-process."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from jobs.delivery.run import NotifySummary, run_notify
from jobs.delivery.settings import parse_destinations
from jobs.incidents import store

ACCOUNT = "123456789012"
T = datetime(2026, 11, 20, 14, 2, tzinfo=UTC)
FAST = {"backoff_seconds": 0.01, "retry_seconds": 20, "timeout_seconds": 5}

EMPTY_SCOPE: dict[str, Any] = {
    "key_first_seen": None, "key_previous_seen": None, "dormant_days": None,
    "lookback_days": 30, "accounts": [ACCOUNT], "regions": ["us-east-1"], "principals": [],
    "access_keys": [], "assumed_roles": [], "instances": [], "security_groups": [],
    "ingress_rules": [], "key_pairs": [], "iam": [],
    "source_ips": [{"ip": "167.99.54.10", "as_org": "DigitalOcean", "seen_in": "cloudtrail",
                    "asn": 14061, "is_hosting": True, "calls": 5, "first_seen": T,
                    "last_seen": T}],
    "destinations": [],
}


def incident(
    incident_id: str, severity: str = "critical", status: str = "open", alerts: int = 3,
    title: str = "Root access key used from a hosting provider", **extra: Any,
) -> dict[str, Any]:
    """An INCIDENTS-shaped row with the columns delivery reads filled in."""
    row: dict[str, Any] = {
        "incident_id": incident_id, "status": status, "severity": severity, "title": title,
        "principal_arn": f"arn:aws:iam::{ACCOUNT}:root", "access_key_id": "AKIAAAAABBBBCCCCDDDD",
        "account_id": ACCOUNT, "started_at": T, "alert_time": T, "detected_at": T,
        "last_seen": T, "window_end": T, "alert_ids": [f"a{i}" for i in range(alerts)],
        "alert_count": alerts, "detection_names": ["root_access_key_used"],
        "entities": [{"type": "instance", "value": "i-0aaaaaaaaaaaaaaa1"}],
        "mitre_tactics": ["initial-access"], "mitre_techniques": ["T1078.004"],
        "activity": [], "scope": EMPTY_SCOPE, "remediation": [], "actions_total": 4,
        "actions_done": 4 if status == "fixed" else 0,
        "fixed_at": T if status == "fixed" else None, "timeline": [],
        "acknowledged_at": None, "acknowledged_by": None, "resolved_at": None,
        "resolved_by": None, "resolution_note": None, "merged_into": None,
        "created_at": T, "updated_at": T, "run_id": "test",
    }
    row.update(extra)
    return row


def write_incidents(spark: SparkSession, lakehouse: str, *rows: dict[str, Any]) -> None:
    store.merge_incidents(spark, lakehouse, list(rows))


def notify(
    spark: SparkSession, lakehouse: str, destinations: Mapping[str, Any],
    environ: Mapping[str, str], run_id: str = "run",
) -> NotifySummary:
    """Validate ``destinations`` as the job does, then run notify over ``lakehouse``."""
    conf = {"lakehouse": lakehouse, "destinations": dict(destinations)}
    return run_notify(spark, conf, parse_destinations(conf, environ), run_id)
