"""What an incident report says, whatever its format: the facts, scope, DNS-lookup and activity
tables, the hot-wash statements, and how times, durations and byte counts are written. Values are
returned as they are; each format escapes them (``report_markdown.md``, ``report_html.esc``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jobs.incidents.metrics import timings
from jobs.runtime.times import utc

TACTICS = {
    "TA0043": "Reconnaissance",
    "TA0042": "Resource Development",
    "TA0001": "Initial Access",
    "TA0002": "Execution",
    "TA0003": "Persistence",
    "TA0004": "Privilege Escalation",
    "TA0005": "Defense Evasion",
    "TA0006": "Credential Access",
    "TA0007": "Discovery",
    "TA0008": "Lateral Movement",
    "TA0009": "Collection",
    "TA0011": "Command and Control",
    "TA0010": "Exfiltration",
    "TA0040": "Impact",
}
REVIEW_QUESTIONS = (
    "What happened, in order, and when did we first know?",
    "How was the credential exposed, and are other credentials stored the same way?",
    "Which alert should have fired first, and did any expected alert not fire?",
    "What slowed the response down (access, approvals, tooling, hand-offs)?",
    "Is anything left behind (resources, other regions or accounts, persistence, cost)?",
    "What prevents a repeat (no root access keys, SCPs, key rotation, alert routing)?",
    "What would have brought alert-to-fix under the target?",
    "Who owns each follow-up, and by when?",
)


@dataclass(frozen=True)
class Target:
    """The response target: ``share`` of incidents fixed within ``minutes`` of the alert."""

    minutes: float = 30.0
    share: float = 0.75

    @classmethod
    def of(cls, conf: Mapping[str, Any]) -> Target:
        """``response.target_minutes`` and ``response.target_share`` in conf."""
        section = conf.get("response", {}) or {}
        return cls(
            float(section.get("target_minutes", 30)), float(section.get("target_share", 0.75))
        )

    def verdict(self, alert_to_fix_s: float) -> str:
        """``within`` or ``over`` the target, for a fix this many seconds after the alert."""
        return "within" if alert_to_fix_s <= self.minutes * 60 else "over"


def when(ts: datetime | None) -> str:
    """``2026-11-20 14:02:05 UTC`` (or ``-``)."""
    t = None if ts is None else utc(ts)
    return "-" if t is None else f"{t:%Y-%m-%d %H:%M:%S} UTC"


def duration(seconds: float | None) -> str:
    """``1 h 02 min 33 s`` style (or ``-``)."""
    if seconds is None:
        return "-"
    sign, s = ("-" if seconds < 0 else ""), int(round(abs(seconds)))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = (
        ([f"{d} d"] if d else []) + ([f"{h} h"] if h or d else []) + [f"{m:02d} min", f"{s:02d} s"]
    )
    return sign + " ".join(parts)


def nbytes(n: int | None) -> str:
    """Bytes with a binary unit."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def hot_wash(incident: Mapping[str, Any], target: Target) -> list[str]:
    """The prefilled timing statements of the hot-wash section (plain text)."""
    t = timings(incident)
    lines = [
        f"Attack started {when(incident.get('started_at'))}; first alert (event time) "
        f"{when(incident.get('alert_time'))}: {duration(t['start_to_alert'])} after the start.",
        f"First written by the pipeline {when(incident.get('detected_at'))}: processing latency "
        f"{duration(t['detection_latency'])}.",
    ]
    if t["alert_to_fix"] is None:
        lines.append(
            f"Not fixed yet: {incident.get('actions_done', 0)} of "
            f"{incident.get('actions_total', 0)} "
            "remediation actions seen in CloudTrail."
        )
    else:
        verdict = target.verdict(t["alert_to_fix"])
        lines.append(
            f"Fixed {when(incident.get('fixed_at'))}: "
            f"{duration(t['alert_to_fix'])} after the alert, "
            f"{verdict} the {target.minutes:g}-minute target."
        )
    return lines


def join_values(values: Sequence[Any] | None) -> str:
    return ", ".join(str(v) for v in values or [])


def scope_tables(incident: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """``(heading, headers, rows)`` for every scope table, shared by Markdown and HTML."""
    s = incident.get("scope") or {}
    return [
        (
            "Instances",
            ["Instance", "Type", "ENIs", "Private IPs", "Region", "Launched"],
            [
                [
                    i["instance_id"],
                    i.get("instance_type"),
                    join_values(i.get("eni_ids")),
                    join_values(i.get("private_ips")),
                    i.get("region"),
                    when(i.get("launched_at")),
                ]
                for i in s.get("instances") or []
            ],
        ),
        (
            "Security groups",
            ["Group", "Name", "VPC", "Created by the attacker", "Region"],
            [
                [
                    g["group_id"],
                    g.get("group_name"),
                    g.get("vpc_id"),
                    "yes" if g.get("created") else "no (rules only)",
                    g.get("region"),
                ]
                for g in s.get("security_groups") or []
            ],
        ),
        (
            "Ingress rules added",
            ["Group", "Rule", "Protocol", "Ports", "Source"],
            [
                [
                    r["group_id"],
                    r.get("rule_id"),
                    r.get("protocol"),
                    f"{r.get('from_port')}-{r.get('to_port')}",
                    r.get("cidr"),
                ]
                for r in s.get("ingress_rules") or []
            ],
        ),
        (
            "Key pairs",
            ["Name", "Key pair id", "Call", "Region", "When"],
            [
                [
                    p["key_name"],
                    p.get("key_pair_id"),
                    p.get("event_name"),
                    p.get("region"),
                    when(p.get("created_at")),
                ]
                for p in s.get("key_pairs") or []
            ],
        ),
        (
            "IAM changes",
            ["Kind", "Resource", "User", "When"],
            [
                [r["kind"], r["resource_id"], r.get("user_name"), when(r.get("created_at"))]
                for r in s.get("iam") or []
            ],
        ),
        (
            "Roles assumed with the key",
            ["Role", "Session key", "When"],
            [
                [r.get("role_arn"), r.get("session_access_key_id"), when(r.get("assumed_at"))]
                for r in s.get("assumed_roles") or []
            ],
        ),
        (
            "Attacker source IPs",
            ["IP", "ASN", "Organisation", "Hosting", "Calls", "Seen in", "First", "Last"],
            [
                [
                    x["ip"],
                    x.get("asn"),
                    x.get("as_org"),
                    "yes" if x.get("is_hosting") else "no",
                    x.get("calls"),
                    x.get("seen_in"),
                    when(x.get("first_seen")),
                    when(x.get("last_seen")),
                ]
                for x in s.get("source_ips") or []
            ],
        ),
        (
            "Network peers of the instances",
            [
                "Direction",
                "IP",
                "Port",
                "Protocol",
                "ASN",
                "Organisation",
                "Bytes",
                "Flows",
                "Instances",
                "First",
                "Last",
            ],
            [
                [
                    d.get("direction"),
                    d["ip"],
                    d.get("port"),
                    d.get("protocol"),
                    d.get("asn"),
                    d.get("as_org"),
                    nbytes(d.get("bytes")),
                    d.get("flows"),
                    len(d.get("instance_ids") or []),
                    when(d.get("first_seen")),
                    when(d.get("last_seen")),
                ]
                for d in s.get("destinations") or []
            ],
        ),
    ]


DNS_HEADERS = [
    "First",
    "Last",
    "Lookups",
    "Instance",
    "Query name",
    "Type",
    "Rcode",
    "Answers",
    "Pool names",
    "Then connected to",
]
DNS_INTRO = (
    "Resolver queries by the instances of this incident for a mining-pool name (the name asked, "
    "or a CNAME target in the answer, is in the intel list). Then connected to: the answered "
    "addresses the instance sent traffic to after the lookup (flow logs)."
)


def dns_rows(incident: Mapping[str, Any]) -> list[list[Any]]:
    """The DNS-lookups table rows."""
    return [
        [
            when(x.get("first_seen")),
            when(x.get("last_seen")),
            x.get("lookups"),
            x.get("instance_id"),
            x.get("query_name"),
            x.get("query_type"),
            x.get("rcode"),
            join_values(x.get("answers")),
            join_values(x.get("pool_names")),
            join_values(x.get("connected_ips")) or "none",
        ]
        for x in incident.get("dns_lookups") or []
    ]


def dns_shown(incident: Mapping[str, Any]) -> str:
    """How many of the lookups the table shows, e.g. ``Showing 10 of 20 lookups (10 more
    not shown).`` (empty when there are none)."""
    total = int(incident.get("dns_lookups_total") or 0)
    shown = sum(int(x.get("lookups") or 0) for x in incident.get("dns_lookups") or [])
    if not total:
        return ""
    if shown >= total:
        return f"{total} lookup{'s' if total != 1 else ''}."
    return f"Showing {shown} of {total} lookups ({total - shown} more not shown)."


def activity_rows(incident: Mapping[str, Any]) -> list[list[Any]]:
    """The principal-activity table rows."""
    return [
        [
            a.get("event_source"),
            a.get("event_name"),
            a.get("calls"),
            a.get("errors"),
            when(a.get("first_seen")),
            when(a.get("last_seen")),
            join_values(a.get("source_ips")),
            join_values(a.get("user_agents")),
            join_values(a.get("error_codes")),
        ]
        for a in incident.get("activity") or []
    ]


ACTIVITY_HEADERS = [
    "Service",
    "Call",
    "Count",
    "Errors",
    "First",
    "Last",
    "Source IPs",
    "User agents",
    "Error codes",
]


def facts(incident: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The ``(field, value)`` rows at the top of a report."""
    s = incident.get("scope") or {}
    return [
        ("Incident", incident["incident_id"]),
        ("Status", incident.get("status")),
        ("Severity", incident.get("severity")),
        ("Principal", incident.get("principal_arn")),
        ("Access key", incident.get("access_key_id")),
        ("Accounts", join_values(s.get("accounts"))),
        ("Regions", join_values(s.get("regions"))),
        ("Principals involved", join_values(s.get("principals"))),
        ("Attack started", when(incident.get("started_at"))),
        ("First alert", when(incident.get("alert_time"))),
        ("Fixed", when(incident.get("fixed_at"))),
        (
            "Key first seen (last %s days)" % (s.get("lookback_days") or 30),
            when(s.get("key_first_seen")),
        ),
        (
            "Key used before the attack",
            when(s.get("key_previous_seen"))
            + (
                f" (dormant {s.get('dormant_days')} days)"
                if s.get("dormant_days") is not None
                else ""
            ),
        ),
        ("Alerts", incident.get("alert_count")),
    ]
