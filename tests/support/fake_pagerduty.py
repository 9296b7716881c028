"""A PagerDuty Events API v2 stand-in: validates events as the API documents them, answers 202
with the dedup_key, and holds one alert per dedup_key (triggered, then resolved) as PagerDuty
does."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.support.fake_http import FakeServer, Request

SEVERITIES = {"critical", "error", "warning", "info"}
ACTIONS = {"trigger", "acknowledge", "resolve"}


@dataclass
class FakePagerDuty:
    routing_key: str
    server: FakeServer = field(init=False)
    alerts: dict[str, str] = field(default_factory=dict)  # dedup_key -> triggered | resolved
    accepted: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = FakeServer(self.respond)

    @property
    def url(self) -> str:
        return self.server.url + "/v2/enqueue"

    def respond(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        try:
            event = request.json()
        except ValueError:
            return 400, {}, b'{"status":"invalid event","message":"Event object is invalid"}'
        problems = []
        if request.path != "/v2/enqueue":
            return 404, {}, b"{}"
        if event.get("routing_key") != self.routing_key:
            problems.append("routing_key")
        if event.get("event_action") not in ACTIONS:
            problems.append("event_action")
        if event.get("event_action") != "trigger" and not event.get("dedup_key"):
            problems.append("dedup_key")
        if event.get("event_action") == "trigger":
            payload = event.get("payload") or {}
            if not payload.get("summary") or not payload.get("source"):
                problems.append("payload")
            if payload.get("severity") not in SEVERITIES or len(payload.get("summary", "")) > 1024:
                problems.append("payload.severity")
        if problems:
            body = {"status": "invalid event", "message": "Event object is invalid",
                    "errors": problems}
            return 400, {}, json.dumps(body).encode()
        key = event.get("dedup_key") or f"generated-{len(self.accepted)}"
        self.accepted.append(event)
        if event["event_action"] == "trigger":
            self.alerts.setdefault(key, "triggered")
        elif key in self.alerts:
            self.alerts[key] = "resolved"
        body = {"status": "success", "message": "Event processed", "dedup_key": key}
        return 202, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def events(self, action: str, dedup_key: str) -> list[dict]:
        return [e for e in self.accepted
                if e["event_action"] == action and e.get("dedup_key") == dedup_key]
