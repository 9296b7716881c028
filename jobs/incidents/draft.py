"""Drafting an incident from its alert group and its evidence (plain Python, no Spark).

``draft_incident`` turns one group (``graph.Group``) and what ``evidence.gather`` found for it
into the incident row: scope, activity, timeline and remediation plan. Status, manual state and
bookkeeping are added later (``fixes.apply_fixes``, ``rows.finalize``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jobs.incidents import assemble, graph
from jobs.incidents.model import Draft, IncidentEvidence
from jobs.incidents.plan import build_plan
from jobs.incidents.settings import Settings
from jobs.runtime.times import floor_time
from schemas.incidents import DNS_LOOKUP

DESTINATION_FIELDS = (
    "ip",
    "as_org",
    "direction",
    "port",
    "protocol",
    "asn",
    "bytes",
    "packets",
    "flows",
    "instance_ids",
    "first_seen",
    "last_seen",
)

DNS_LOOKUP_FIELDS = tuple(f.name for f in DNS_LOOKUP.fields)


def user_of(arn: str | None) -> str | None:
    """The IAM user name in ``arn:aws:iam::<account>:user/<path/>name`` (else None)."""
    if not arn or ":user/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1] or None


def revoke_before(last_activity: datetime) -> str:
    """The ISO time sessions are revoked before: the minute after the last activity."""
    minute = timedelta(minutes=1)
    return f"{floor_time(last_activity, minute) + minute:%Y-%m-%dT%H:%M:%SZ}"


def source_ips(
    sources: Sequence[Mapping[str, Any]], peers: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The calls' source addresses, most calls first; ``seen_in`` says whether they also
    connected to the instances (an inbound flow peer)."""
    inbound = {p["ip"] for p in peers if p["direction"] == "inbound"}
    return [
        {
            "ip": s["ip"],
            "asn": s.get("asn"),
            "as_org": s.get("as_org"),
            "is_hosting": s.get("is_hosting"),
            "calls": s["calls"],
            "first_seen": s["first_seen"],
            "last_seen": s["last_seen"],
            "seen_in": "cloudtrail+vpc_flows" if s["ip"] in inbound else "cloudtrail",
        }
        for s in sorted(sources, key=lambda s: (-s["calls"], s["ip"]))
    ]


def destinations(peers: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The instances' public peers: outbound first, then by bytes (most first) and address."""
    ordered = sorted(
        peers, key=lambda p: (p["direction"] != "outbound", -(p["bytes"] or 0), p["ip"])
    )
    return [{k: p.get(k) for k in DESTINATION_FIELDS} for p in ordered]


def dns_lookups(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The kept pool lookups: those the instance then connected to first, then by time."""
    ordered = sorted(
        rows,
        key=lambda x: (
            not x["connected_ips"], x["first_seen"], x["instance_id"], x["query_name"] or "",
            x["query_type"] or "", x["rcode"] or "", x["answers"],
        ),
    )
    return [{k: x.get(k) for k in DNS_LOOKUP_FIELDS} for x in ordered]


def assumed_roles(
    created: Sequence[Mapping[str, Any]], keys: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Roles assumed with the incident's keys, plus the role behind each role-session key
    (``ASIA``) among the identities, so its sessions are revoked too."""
    roles = [dict(r) for r in created]
    for k in keys:
        if (
            k["access_key_id"].startswith("ASIA")
            and k.get("session_issuer_type") == "Role"
            and k.get("session_issuer_arn")
            and all(r["role_arn"] != k["session_issuer_arn"] for r in roles)
        ):
            roles.append(
                {
                    "role_arn": k["session_issuer_arn"],
                    "session_arn": None,
                    "session_access_key_id": k["access_key_id"],
                    "account_id": k.get("account_id"),
                    "assumed_at": k.get("first_used"),
                }
            )
    return roles


def key_owners(keys: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Long-term (``AKIA``) key -> ``is_root``, ``user_name``, ``account_id``, for the plan."""
    return {
        k["access_key_id"]: {
            "is_root": bool(k.get("is_root")),
            "user_name": k.get("user_name") or user_of(k.get("principal_arn")),
            "account_id": k.get("account_id"),
        }
        for k in keys
        if k["access_key_id"].startswith("AKIA")
    }


def scope_of(
    alerts: Sequence[graph.Alert],
    found: IncidentEvidence,
    started: datetime,
    history_days: int,
) -> dict[str, Any]:
    """The incident's ``scope`` struct: what was touched and created, and by whom."""
    start, res, touched = found.start or {}, found.resources, found.touched or {}
    previous = start.get("key_previous_seen")
    roles = assumed_roles(res["assumed_roles"], found.keys)
    return {
        "key_first_seen": start.get("key_first_seen"),
        "key_previous_seen": previous,
        "dormant_days": round((started - previous).total_seconds() / 86400, 2)
        if previous
        else None,
        "lookback_days": history_days,
        "accounts": sorted(
            set(touched.get("accounts") or []) | {a.account_id for a in alerts if a.account_id}
        ),
        "regions": sorted(
            set(touched.get("regions") or []) | {a.region for a in alerts if a.region}
        ),
        "principals": sorted(
            set(touched.get("principals") or [])
            | {a.principal_arn for a in alerts if a.principal_arn}
            | {r["role_arn"] for r in roles if r.get("role_arn")}
        ),
        "access_keys": sorted(
            set(touched.get("access_keys") or [])
            | {a.access_key_id for a in alerts if a.access_key_id}
        ),
        "assumed_roles": sorted(
            roles, key=lambda r: (str(r["role_arn"]), str(r["session_access_key_id"]))
        ),
        "instances": sorted(res["instances"], key=lambda i: i["instance_id"]),
        "security_groups": sorted(res["security_groups"], key=lambda g: g["group_id"]),
        "ingress_rules": sorted(
            res["ingress_rules"], key=lambda r: (r["group_id"] or "", str(r["rule_id"]))
        ),
        "key_pairs": sorted(res["key_pairs"], key=lambda p: p["key_name"]),
        "iam": sorted(res["iam"], key=lambda r: (r["kind"], r["resource_id"])),
        "source_ips": source_ips(found.sources, found.peers),
        "destinations": destinations(found.peers),
    }


def _top_alert(alerts: Sequence[graph.Alert]) -> graph.Alert:
    """The most severe alert, the earliest among equals."""
    return max(
        alerts,
        key=lambda a: (
            graph.SEVERITIES.index(a.severity) if a.severity in graph.SEVERITIES else 0,
            -a.first_seen.timestamp(),
        ),
    )


def draft_incident(
    incident_id: str,
    group: graph.Group,
    merged: list[str],
    found: IncidentEvidence,
    settings: Settings,
) -> Draft:
    """The incident row for one group (``merged``: incident ids it absorbed), with its scope,
    activity, timeline and remediation plan (nothing marked done yet)."""
    alerts = sorted(group.alerts, key=lambda a: (a.first_seen, a.alert_id))
    principal, key = graph.primary_identity(group)
    started = min(
        (found.start or {}).get("started_at") or alerts[0].first_seen, alerts[0].first_seen
    )
    scope = scope_of(alerts, found, started, settings.history_days)
    owners = key_owners(found.keys)
    last_activity = max([a.last_seen for a in alerts] + [x["last_seen"] for x in found.activity])
    plan = build_plan({**scope, "revoke_before": revoke_before(last_activity)}, owners)
    is_root = bool(key and owners.get(key, {}).get("is_root"))
    last_seen = max(a.last_seen for a in alerts)
    row = {
        "incident_id": incident_id,
        "severity": graph.severity_of(alerts),
        "title": assemble.title(
            principal, key, is_root, scope, _top_alert(alerts).title, len(alerts)
        ),
        "principal_arn": principal,
        "access_key_id": key,
        "account_id": next((a.account_id for a in alerts if a.account_id), None),
        "started_at": started,
        "alert_time": min(a.alert_time for a in alerts),
        "detected_at": min(a.created_at for a in alerts),
        "last_seen": last_seen,
        "window_end": last_seen + settings.tail,
        "alert_ids": [a.alert_id for a in alerts],
        "alert_count": len(alerts),
        "detection_names": sorted({a.detection_name for a in alerts}),
        "entities": [
            {"type": t, "value": v}
            for t, v in sorted({(t, v) for a in alerts for t, v in a.entities} | group.links)
        ],
        "mitre_tactics": sorted({x for a in alerts for x in a.mitre_tactics}),
        "mitre_techniques": sorted({x for a in alerts for x in a.mitre_techniques}),
        "activity": sorted(
            found.activity,
            key=lambda x: (x["first_seen"], x["event_source"] or "", x["event_name"] or ""),
        ),
        "scope": scope,
        "remediation": plan,
        "timeline": assemble.timeline(found.minute_calls, found.minute_bytes),
        "dns_lookups": dns_lookups(found.dns_lookups),
        "dns_lookups_total": found.dns_lookups[0]["total"] if found.dns_lookups else 0,
    }
    aliases = {
        p["key_pair_id"]: p["key_name"]
        for p in found.resources["key_pairs"]
        if p.get("key_pair_id")
    }
    return Draft(row, merged, aliases)
