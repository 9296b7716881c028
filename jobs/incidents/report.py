"""Incident reports: Markdown and a self-contained HTML page with an inline SVG timeline.

Every value that came from a log is attacker-controlled: HTML output passes it through
``html.escape`` (``_h``), Markdown through ``plan.md``. Only ids that passed validation reach a
command, and commands are shell-quoted when the plan is built (``plan.command``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobs.incidents.metrics import timings
from jobs.incidents.plan import md, plan_markdown
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
        section = conf.get("response", {}) or {}
        return cls(
            float(section.get("target_minutes", 30)), float(section.get("target_share", 0.75))
        )


def when(ts: datetime | None) -> str:
    """``2026-11-20 14:02:05 UTC`` (or ``-``)."""
    t = (None if ts is None else utc(ts))
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
        verdict = "within" if t["alert_to_fix"] <= target.minutes * 60 else "over"
        lines.append(
            f"Fixed {when(incident.get('fixed_at'))}: "
            f"{duration(t['alert_to_fix'])} after the alert, "
            f"{verdict} the {target.minutes:g}-minute target."
        )
    return lines


# --- Markdown ------------------------------------------------------------------------------------


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return ["_None found._", ""]
    out = ["| " + " | ".join(md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out + [""]


def _join(values: Sequence[Any] | None) -> str:
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
                    _join(i.get("eni_ids")),
                    _join(i.get("private_ips")),
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
            _join(a.get("source_ips")),
            _join(a.get("user_agents")),
            _join(a.get("error_codes")),
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
    s = incident.get("scope") or {}
    return [
        ("Incident", incident["incident_id"]),
        ("Status", incident.get("status")),
        ("Severity", incident.get("severity")),
        ("Principal", incident.get("principal_arn")),
        ("Access key", incident.get("access_key_id")),
        ("Accounts", _join(s.get("accounts"))),
        ("Regions", _join(s.get("regions"))),
        ("Principals involved", _join(s.get("principals"))),
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


def render_markdown(incident: Mapping[str, Any], target: Target) -> str:
    """The incident report as Markdown."""
    lines = [f"# {md(incident['title'])}", ""]
    lines += _md_table(["Field", "Value"], facts(incident))
    lines += ["## MITRE ATT&CK", ""]
    lines += [f"- {md(t)} {md(TACTICS.get(t, ''))}" for t in incident.get("mitre_tactics") or []]
    lines += [f"- technique {md(t)}" for t in incident.get("mitre_techniques") or []] + [""]
    lines += ["## Alerts", ""]
    lines += [f"- {md(a)}" for a in incident.get("alert_ids") or []]
    lines += ["", "Detections: " + md(_join(incident.get("detection_names"))), ""]
    lines += ["## Scope", ""]
    for heading, headers, rows in scope_tables(incident):
        lines += [f"### {heading}", ""] + _md_table(headers, rows)
    lines += ["## Principal activity (calls that change something)", ""]
    lines += _md_table(ACTIVITY_HEADERS, activity_rows(incident))
    lines += [
        plan_markdown(incident["incident_id"], incident.get("remediation") or []).replace(
            "## Remediation plan", "## Remediation plan", 1
        )
    ]
    lines += ["## Hot wash", ""] + [f"- {md(x)}" for x in hot_wash(incident, target)] + [""]
    lines += ["Review questions:", ""] + [
        f"{i}. {md(q)}" for i, q in enumerate(REVIEW_QUESTIONS, 1)
    ]
    return "\n".join(lines) + "\n"


# --- HTML ----------------------------------------------------------------------------------------


def _h(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    if not rows:
        return '<p class="none">None found.</p>'
    head = "".join(f"<th>{_h(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{_h(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _buckets(
    points: Sequence[Mapping[str, Any]], start: datetime, end: datetime, n: int
) -> list[dict[str, float]]:
    span = max((end - start).total_seconds(), 60.0)
    step = span / n
    out = [{"api": 0.0, "write": 0.0, "bytes": 0.0} for _ in range(n)]
    for p in points:
        t = (None if p["minute"] is None else utc(p["minute"]))
        if t is None:
            continue
        i = min(n - 1, max(0, int((t - start).total_seconds() // step)))
        out[i]["api"] += p.get("api_calls") or 0
        out[i]["write"] += p.get("write_calls") or 0
        out[i]["bytes"] += p.get("flow_bytes") or 0
    return out


def timeline_svg(
    incident: Mapping[str, Any], width: int = 1100, height: int = 300, n: int = 120
) -> str:
    """An inline SVG: the attacker's API calls (bars; calls that change something in red) above,
    the instances' traffic to public peers (area) below, and start / alert / fix markers."""
    points = incident.get("timeline") or []
    marks = [(k, (None if incident.get(k) is None else utc(incident.get(k)))) for k in ("started_at", "alert_time", "fixed_at")]
    times = [(None if p["minute"] is None else utc(p["minute"])) for p in points] + [t for _, t in marks if t]
    times = [t for t in times if t is not None]
    if not times:
        return '<p class="none">No timeline data.</p>'
    start = min(times).replace(second=0, microsecond=0)
    end = max(times) + timedelta(minutes=1)
    left, right, top, mid, bottom = 60, width - 20, 20, height // 2, height - 40
    buckets = _buckets(points, start, end, n)
    span = (end - start).total_seconds()
    bar_w = (right - left) / n

    def x(t: datetime) -> float:
        return left + (right - left) * (t - start).total_seconds() / span

    max_api = max([b["api"] for b in buckets] + [1])
    max_bytes = max([b["bytes"] for b in buckets] + [1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="Incident timeline" id="timeline">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fbfbfd"/>',
        f'<text x="{left}" y="14" class="lbl">API calls per {_h(duration(span / n))} '
        f"(red: calls that change something; max {int(max_api)})</text>",
        f'<text x="{left}" y="{mid + 16}" class="lbl">Traffic to public peers '
        f"(max {_h(nbytes(int(max_bytes)))} per bucket)</text>",
        f'<line x1="{left}" y1="{mid - 4}" x2="{right}" y2="{mid - 4}" stroke="#999"/>',
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
    ]
    api_h = mid - 4 - (top + 4)
    for i, b in enumerate(buckets):
        if b["api"]:
            h = max(1.0, api_h * b["api"] / max_api)
            parts.append(
                f'<rect class="api" x="{left + i * bar_w:.1f}" y="{mid - 4 - h:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" fill="#8a8fa3"/>'
            )
        if b["write"]:
            h = max(1.0, api_h * b["write"] / max_api)
            parts.append(
                f'<rect class="write" x="{left + i * bar_w:.1f}" y="{mid - 4 - h:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" fill="#c0392b"/>'
            )
    flow_h = bottom - (mid + 24)
    path = [f"M{left:.1f},{bottom}"]
    for i, b in enumerate(buckets):
        path.append(
            f"L{left + (i + 0.5) * bar_w:.1f},{bottom - flow_h * b['bytes'] / max_bytes:.1f}"
        )
    path.append(f"L{right:.1f},{bottom}Z")
    parts.append(
        f'<path class="flow" d="{" ".join(path)}" fill="#2e86c1" fill-opacity="0.5" '
        'stroke="#2e86c1"/>'
    )
    colours = {"started_at": "#6c3483", "alert_time": "#d68910", "fixed_at": "#1e8449"}
    names = {"started_at": "attack start", "alert_time": "first alert", "fixed_at": "fixed"}
    for i, (key, t) in enumerate(marks):
        if t is None:
            continue
        xx = x(t)
        parts.append(
            f'<line class="mark" x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{bottom}" '
            f'stroke="{colours[key]}" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{xx + 3:.1f}" y="{top + 12 + 12 * i}" class="lbl" fill="{colours[key]}">'
            f"{_h(names[key])} {_h(f'{t:%H:%M:%S}')}</text>"
        )
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        t = start + timedelta(seconds=span * frac)
        parts.append(
            f'<text x="{x(t):.1f}" y="{bottom + 16}" class="lbl" text-anchor="middle">'
            f"{_h(f'{t:%H:%M}')}</text>"
        )
    parts.append(
        f'<text x="{left}" y="{bottom + 32}" class="lbl">{_h(f"{start:%Y-%m-%d}")} UTC</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1c1c1c;
max-width:1200px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin-bottom:6px}table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f6}
.sev{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:600}
.sev-critical{background:#922b21}.sev-high{background:#c0392b}.sev-medium{background:#d68910}
.sev-low,.sev-info{background:#7f8c8d}pre{background:#f6f8fa;padding:6px;overflow-x:auto;font-size:12px}
.lbl{font-size:11px;font-family:inherit}.none{color:#777;font-style:italic}.done{color:#1e8449}
.over{color:#922b21;font-weight:600}.within{color:#1e8449;font-weight:600}
"""


def _plan_html(plan: Sequence[Mapping[str, Any]]) -> str:
    if not plan:
        return '<p class="none">No resource-level actions: review the activity table.</p>'
    items = []
    for a in plan:
        done = (
            f' <span class="done">done {_h(when(a.get("done_at")))}</span>' if a.get("done") else ""
        )
        body = (
            f"<b>{_h(a['action'])}</b> <code>{_h(a['resource_id'])}</code>{done}"
            f"<br>{_h(a['description'])}"
        )
        if a.get("command"):
            body += f"<pre><code>{_h(a['command'])}</code></pre>"
        steps = a.get("console_steps") or []
        if steps:
            body += "<ul>" + "".join(f"<li>{_h(s)}</li>" for s in steps) + "</ul>"
        items.append(
            f'<li class="action" data-action="{_h(a["action"])}" '
            f'data-resource="{_h(a["resource_id"])}">{body}</li>'
        )
    return '<ol class="plan">' + "".join(items) + "</ol>"


def _tactic_link(t: str) -> str:
    if re.fullmatch(r"TA[0-9]{4}", t or ""):
        return (
            f'<a href="https://attack.mitre.org/tactics/{t}/">{_h(t)}</a> {_h(TACTICS.get(t, ""))}'
        )
    return _h(t)


def render_html(incident: Mapping[str, Any], target: Target) -> str:
    """The incident report as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    sev = str(incident.get("severity"))
    t = timings(incident)
    verdict = ""
    if t["alert_to_fix"] is not None:
        ok = t["alert_to_fix"] <= target.minutes * 60
        word = "within" if ok else "over"
        verdict = f'<p class="{word}">{word.capitalize()} the {target.minutes:g}-minute target.</p>'
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_h(incident['incident_id'])}: {_h(incident['title'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<h1 id="title"><span class="sev sev-{_h(sev)}">{_h(sev)}</span> '
        f"{_h(incident['title'])}</h1>",
        _table(["Field", "Value"], facts(incident), "facts"),
        "<h2>Timeline</h2>",
        timeline_svg(incident),
        "<h2>MITRE ATT&amp;CK</h2><ul>",
        "".join(f"<li>{_tactic_link(x)}</li>" for x in incident.get("mitre_tactics") or []),
        "</ul><p>Techniques: " + _h(_join(incident.get("mitre_techniques"))) + "</p>",
        "<h2>Scope</h2>",
    ]
    for heading, headers, rows in scope_tables(incident):
        sections += [f"<h3>{_h(heading)}</h3>", _table(headers, rows)]
    sections += [
        "<h2>Principal activity</h2><p>Every call that changes something, made with the "
        "incident's keys or principals.</p>",
        _table(ACTIVITY_HEADERS, activity_rows(incident), "activity"),
        "<h2>Remediation plan</h2>",
        _plan_html(incident.get("remediation") or []),
        "<h2>Alerts</h2><ul>",
        "".join(f"<li><code>{_h(a)}</code></li>" for a in incident.get("alert_ids") or []),
        "</ul><p>Detections: " + _h(_join(incident.get("detection_names"))) + "</p>",
        '<h2 id="hot-wash">Hot wash</h2><ul>',
        "".join(f"<li>{_h(x)}</li>" for x in hot_wash(incident, target)),
        "</ul>",
        verdict,
        "<p>Review questions:</p><ol>",
        "".join(f"<li>{_h(q)}</li>" for q in REVIEW_QUESTIONS),
        "</ol></body></html>",
    ]
    return "\n".join(sections) + "\n"


def metrics_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The response-metrics report: percentiles per severity and incidents over target."""
    if not rows:
        return "# Response metrics\n\nNo incidents yet.\n"
    first = rows[0]
    lines = [
        "# Response metrics",
        "",
        f"Target: {first['target_share']:.0%} of incidents fixed within "
        f"{first['target_minutes']:g} minutes of the alert.",
        "",
        "| Severity | Incidents | Fixed | Start to alert p50/p75/p90 | "
        "Detection latency p50/p75/p90 | "
        "Alert to fix p50/p75/p90 | Within target | Meets target |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def trio(r: Mapping[str, Any], m: str) -> str:
        return " / ".join(duration(r[f"{m}_p{q}_s"]) for q in (50, 75, 90))

    for r in rows:
        share = "-" if r["share_within_target"] is None else f"{r['share_within_target']:.0%}"
        meets = "-" if r["meets_target"] is None else ("yes" if r["meets_target"] else "no")
        lines.append(
            f"| {md(r['severity'])} | {r['incidents']} | {r['fixed']} | "
            f"{trio(r, 'start_to_alert')} | {trio(r, 'detection_latency')} | "
            f"{trio(r, 'alert_to_fix')} | {r['within_target']} ({share}) | {meets} |"
        )
    late = next((r["over_target"] for r in rows if r["severity"] == "all"), [])
    lines += ["", "## Over target, for review", ""]
    lines += [f"- {md(i)}" for i in late] or ["_None._"]
    return "\n".join(lines) + "\n"
