"""What every destination says about an alert or incident, as plain data: summary, key facts,
counts, remediation progress and the report link. Destinations format it their own way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jobs.delivery.escape import one_line
from jobs.delivery.model import Delivery
from jobs.runtime.times import utc

TEST_SUMMARY = "[TEST] trailwarden test message: this destination is configured correctly"


def iso(value: Any) -> str | None:
    """An aware UTC ISO-8601 string (``...Z``) for a datetime, else None."""
    return None if not isinstance(value, datetime) else utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(delivery: Delivery) -> str:
    """One line: ``[critical] INC-... title`` (``RESOLVED:`` / ``UPDATED:`` when it is)."""
    if delivery.is_test:
        return TEST_SUMMARY
    doc = delivery.doc
    prefix = {"resolve": "RESOLVED: ", "update": "UPDATED: "}.get(delivery.action, "")
    return one_line(f"{prefix}[{delivery.severity}] {delivery.object_id} {doc.get('title')}", 1000)


def report_link(delivery: Delivery, base_url: str | None, lakehouse: str) -> str | None:
    """Where the incident's HTML report is: under ``base_url`` when set, else the lakehouse."""
    if delivery.source != "gold/incidents" or delivery.is_test:
        return None
    root = (base_url or f"{lakehouse.rstrip('/')}/reports").rstrip("/")
    return f"{root}/{delivery.object_id}.html"


def resources(doc: Mapping[str, Any], limit: int = 20) -> list[str]:
    """``type:value`` of the entities (instances, groups, key pairs...), at most ``limit``."""
    out = [f"{e.get('type')}:{e.get('value')}" for e in doc.get("entities") or []]
    return out[:limit]


def details(delivery: Delivery, link: str | None) -> dict[str, Any]:
    """The facts a responder needs, JSON-ready (strings escaped by the JSON encoder)."""
    doc = delivery.doc
    if delivery.is_test:
        return {"test": True, "destination": delivery.destination}
    facts: dict[str, Any] = {
        "id": delivery.object_id,
        "action": delivery.action,
        "status": doc.get("status"),
        "severity": delivery.severity,
        "title": doc.get("title"),
        "principal": doc.get("principal_arn"),
        "access_key": doc.get("access_key_id"),
        "account": doc.get("account_id"),
        "source_ips": list(doc.get("source_ips") or [])[:20],
        "user_agents": list(doc.get("user_agents") or [])[:10],
        "resources": resources(doc),
        "mitre_tactics": list(doc.get("mitre_tactics") or []),
        "mitre_techniques": list(doc.get("mitre_techniques") or []),
        "detections": list(doc.get("detection_names") or [doc.get("detection_name")]),
        "alert_time": iso(doc.get("alert_time")),
    }
    if delivery.source == "gold/incidents":
        facts.update(
            alerts=doc.get("alert_count"),
            remediation=f"{doc.get('actions_done')}/{doc.get('actions_total')} actions done",
            fixed_at=iso(doc.get("fixed_at")),
            resolved_by=doc.get("resolved_by"),
            merged_into=doc.get("merged_into"),
            report=link,
        )
    else:
        facts.update(events=doc.get("event_count"), region=doc.get("region"))
    return facts


def document(delivery: Delivery, link: str | None) -> dict[str, Any]:
    """The webhook/SNS body: the delivery's identity and the facts."""
    return {
        "delivery_id": delivery.delivery_id,
        "destination": delivery.destination,
        "source": delivery.source,
        "action": delivery.action,
        "object_id": delivery.object_id,
        "table_version": delivery.table_version,
        "summary": summary(delivery),
        "details": details(delivery, link),
    }
