"""PagerDuty Events API v2: one event per change, ``dedup_key`` = the incident (or alert) id, so
the trigger, its updates and the resolve are one PagerDuty alert, and a re-send is deduplicated.

Sent with requests rather than the official ``pagerduty`` client (docs/alerting.md says why)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.delivery.context import Context
from jobs.delivery.destinations.http_post import post
from jobs.delivery.escape import one_line
from jobs.delivery.model import Delivery, Outcome
from jobs.delivery.render import details, iso, summary
from jobs.delivery.retry import one_by_one
from jobs.delivery.settings import Destination

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SCHEMA: dict[str, Any] = {
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "routing_key_env": {"type": "string", "minLength": 1},
        "source": {"type": "string"},
    },
    "required": ["routing_key_env"],
}
SECRETS = {"routing_key_env": True}
# A re-send carries the same dedup_key: PagerDuty keeps one alert.
DEDUPLICATES = True
# trailwarden severity -> PagerDuty payload.severity (critical, error, warning, info)
SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info",
            "info": "info"}
EVENT_ACTION = {"trigger": "trigger", "update": "trigger", "alert": "trigger",
                "test": "trigger", "resolve": "resolve"}


def event(delivery: Delivery, routing_key: str, link: str | None, source: str) -> dict[str, Any]:
    """The Events API v2 body for ``delivery``."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": EVENT_ACTION[delivery.action],
        "dedup_key": delivery.object_id if not delivery.is_test else delivery.delivery_id,
    }
    if body["event_action"] == "trigger":
        body["payload"] = {
            "summary": one_line(summary(delivery), 1024),
            "source": source,
            "severity": SEVERITY.get(delivery.severity, "info"),
            "timestamp": iso(delivery.doc.get("alert_time")) if not delivery.is_test else None,
            "component": delivery.doc.get("account_id"),
            "group": "trailwarden",
            "class": delivery.doc.get("detection_name") or "incident",
            "custom_details": details(delivery, link),
        }
        body["payload"] = {k: v for k, v in body["payload"].items() if v is not None}
        if link and link.startswith(("http://", "https://")):
            body["links"] = [{"href": link, "text": "incident report"}]
    return body


def deliver(dest: Destination, batch: Sequence[Delivery], context: Context) -> list[Outcome]:
    """POST one event per delivery, in order."""
    settings: Mapping[str, Any] = dest.settings
    url = settings.get("url") or DEFAULT_URL

    def send(delivery: Delivery) -> str:
        body = event(delivery, dest.secrets["routing_key"], context.link(delivery, settings),
                     settings.get("source", "trailwarden"))
        return post(url, json.dumps(body).encode(), {}, dest.policy.timeout_seconds)

    return one_by_one(batch, send, dest.policy)
