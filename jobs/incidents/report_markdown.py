"""Incident reports in Markdown: the incident report, its remediation plan and the
response-metrics report.

Every value that came from a log is attacker-controlled and passes through ``md``. Only ids that
passed validation reach a command, and commands are shell-quoted when the plan is built.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jobs.incidents.report_content import (
    ACTIVITY_HEADERS,
    DNS_HEADERS,
    DNS_INTRO,
    REVIEW_QUESTIONS,
    TACTICS,
    Target,
    activity_rows,
    dns_rows,
    dns_shown,
    duration,
    facts,
    hot_wash,
    join_values,
    scope_tables,
)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def md(value: Any) -> str:
    """``value`` as inert Markdown text on one line: HTML-escaped (no tags, no autolinks), the
    emphasis, code, link, table and heading characters backslashed, and bare URLs broken
    (``\\://``, ``www\\.``) so that no renderer turns them into links."""
    text = " ".join(str("" if value is None else value).split())
    text = html.escape(_MD_SPECIAL.sub(r"\\\1", text), quote=True)
    return re.sub(r"(?i)www\.", lambda m: m.group(0)[:3] + "\\.", text.replace("://", "\\://"))


def plan_markdown(incident_id: str, plan: Sequence[Mapping[str, Any]]) -> str:
    """The plan as Markdown: one numbered step per action, its command in a code block."""
    lines = [f"## Remediation plan for {md(incident_id)}", ""]
    if not plan:
        lines.append("No resource-level actions: review the activity table.")
    for a in plan:
        done = f" — done {md(a.get('done_at'))}" if a.get("done") else ""
        lines.append(
            f"{a['step']}. **{md(a['action'])}** {md(a['resource_id'])}{done}: "
            f"{md(a['description'])}"
        )
        if a.get("command"):
            lines += ["", "   ```sh", f"   {a['command']}", "   ```"]
        for s in a.get("console_steps") or []:
            lines.append(f"   - {md(s)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table (every cell escaped), or a line saying there is nothing."""
    if not rows:
        return ["_None found._", ""]
    out = ["| " + " | ".join(md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return out + [""]


def render_markdown(incident: Mapping[str, Any], target: Target) -> str:
    """The incident report as Markdown."""
    lines = [f"# {md(incident['title'])}", ""]
    lines += md_table(["Field", "Value"], facts(incident))
    lines += ["## MITRE ATT&CK", ""]
    lines += [f"- {md(t)} {md(TACTICS.get(t, ''))}" for t in incident.get("mitre_tactics") or []]
    lines += [f"- technique {md(t)}" for t in incident.get("mitre_techniques") or []] + [""]
    lines += ["## Alerts", ""]
    lines += [f"- {md(a)}" for a in incident.get("alert_ids") or []]
    lines += ["", "Detections: " + md(join_values(incident.get("detection_names"))), ""]
    lines += ["## Scope", ""]
    for heading, headers, rows in scope_tables(incident):
        lines += [f"### {heading}", ""] + md_table(headers, rows)
    lines += ["## DNS lookups", "", md(DNS_INTRO), ""]
    lines += md_table(DNS_HEADERS, dns_rows(incident))
    lines += [md(dns_shown(incident)), ""] if dns_shown(incident) else []
    lines += ["## Principal activity (calls that change something)", ""]
    lines += md_table(ACTIVITY_HEADERS, activity_rows(incident))
    lines += [plan_markdown(incident["incident_id"], incident.get("remediation") or [])]
    lines += ["## Hot wash", ""] + [f"- {md(x)}" for x in hot_wash(incident, target)] + [""]
    lines += ["Review questions:", ""] + [
        f"{i}. {md(q)}" for i, q in enumerate(REVIEW_QUESTIONS, 1)
    ]
    return "\n".join(lines) + "\n"


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
