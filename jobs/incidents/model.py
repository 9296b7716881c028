"""The plain values the incident step passes from gathering (``evidence``) to drafting, planning
and rendering: frozen dataclasses, and rows as dicts whose datetimes are aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.incidents import assemble, graph
from jobs.runtime.times import utc

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class IncidentEvidence:
    """What Spark found for one incident; rows are dicts with aware UTC times."""

    start: dict[str, Any] | None = None  # ``scope.session_starts`` row (None: no earlier events)
    activity: Rows = field(default_factory=list)  # ``scope.activity`` rows
    touched: dict[str, Any] | None = None  # ``scope.touched`` row
    sources: Rows = field(default_factory=list)  # ``scope.call_sources`` (+ ASN columns)
    keys: Rows = field(default_factory=list)  # ``scope.key_usage`` rows
    resources: dict[str, Rows] = field(default_factory=lambda: assemble.resources([]))
    peers: Rows = field(default_factory=list)  # ``scope.peers`` rows (+ ASN columns)
    minute_calls: Rows = field(default_factory=list)  # ``scope.minute_calls`` rows
    minute_bytes: Rows = field(default_factory=list)  # ``scope.minute_bytes`` rows
    dns_lookups: Rows = field(default_factory=list)  # ``lookups.lookup_summary`` rows


@dataclass(frozen=True)
class Evidence:
    """The alert groups of this run, as ``(incident_id, group, merged_ids)``, and per incident
    what Spark found."""

    groups: list[tuple[str, graph.Group, list[str]]]
    incidents: dict[str, IncidentEvidence]


@dataclass(frozen=True)
class Draft:
    """One incident as this run sees it: its row (without status and bookkeeping), the
    incident ids it absorbed, other ids of its resources (key pair id -> key name), and the
    ``(action, resource_id)`` of plan actions whose resource came back after a fix
    (``fixes.apply_fixes`` fills it)."""

    row: dict[str, Any]
    merged: list[str]
    aliases: dict[str, str]
    withdrawn: set[tuple[str, str]] = field(default_factory=set)


def aware(value: Any) -> Any:
    """Datetimes as aware UTC (``jobs.runtime.times.utc``); dicts, lists and tuples recursively
    (tuples become lists)."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, dict):
        return {k: aware(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [aware(v) for v in value]
    return value
