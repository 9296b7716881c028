"""The incident report as one self-contained HTML page, with an inline SVG timeline.

Every value that came from a log is attacker-controlled and passes through ``html.escape``
(``esc``); the page has no scripts and a restrictive Content-Security-Policy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jobs.incidents.metrics import timings
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
    nbytes,
    scope_tables,
    when,
)
from jobs.runtime.times import utc


def esc(value: Any) -> str:
    """``value`` as HTML text (quotes escaped too); None as empty."""
    return html.escape("" if value is None else str(value), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    if not rows:
        return '<p class="none">None found.</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _utc_or_none(ts: datetime | None) -> datetime | None:
    return None if ts is None else utc(ts)


def _buckets(
    points: Sequence[Mapping[str, Any]], start: datetime, end: datetime, n: int
) -> list[dict[str, float]]:
    span = max((end - start).total_seconds(), 60.0)
    step = span / n
    out = [{"api": 0.0, "write": 0.0, "bytes": 0.0} for _ in range(n)]
    for p in points:
        t = _utc_or_none(p["minute"])
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
    marks = [(k, _utc_or_none(incident.get(k))) for k in ("started_at", "alert_time", "fixed_at")]
    times = [_utc_or_none(p["minute"]) for p in points] + [t for _, t in marks if t]
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
        f'<text x="{left}" y="14" class="lbl">API calls per {esc(duration(span / n))} '
        f"(red: calls that change something; max {int(max_api)})</text>",
        f'<text x="{left}" y="{mid + 16}" class="lbl">Traffic to public peers '
        f"(max {esc(nbytes(int(max_bytes)))} per bucket)</text>",
        f'<line x1="{left}" y1="{mid - 4}" x2="{right}" y2="{mid - 4}" stroke="#999"/>',
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>',
    ]
    api_h = mid - 4 - (top + 4)
    for i, b in enumerate(buckets):
        if b["api"]:
            bar_h = max(1.0, api_h * b["api"] / max_api)
            parts.append(
                f'<rect class="api" x="{left + i * bar_w:.1f}" y="{mid - 4 - bar_h:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{bar_h:.1f}" fill="#8a8fa3"/>'
            )
        if b["write"]:
            bar_h = max(1.0, api_h * b["write"] / max_api)
            parts.append(
                f'<rect class="write" x="{left + i * bar_w:.1f}" y="{mid - 4 - bar_h:.1f}" '
                f'width="{max(bar_w - 1, 1):.1f}" height="{bar_h:.1f}" fill="#c0392b"/>'
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
            f"{esc(names[key])} {esc(f'{t:%H:%M:%S}')}</text>"
        )
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        t = start + timedelta(seconds=span * frac)
        parts.append(
            f'<text x="{x(t):.1f}" y="{bottom + 16}" class="lbl" text-anchor="middle">'
            f"{esc(f'{t:%H:%M}')}</text>"
        )
    parts.append(
        f'<text x="{left}" y="{bottom + 32}" class="lbl">{esc(f"{start:%Y-%m-%d}")} UTC</text>'
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
        done_at = esc(when(a.get("done_at")))
        done = f' <span class="done">done {done_at}</span>' if a.get("done") else ""
        body = (
            f"<b>{esc(a['action'])}</b> <code>{esc(a['resource_id'])}</code>{done}"
            f"<br>{esc(a['description'])}"
        )
        if a.get("command"):
            body += f"<pre><code>{esc(a['command'])}</code></pre>"
        steps = a.get("console_steps") or []
        if steps:
            body += "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in steps) + "</ul>"
        items.append(
            f'<li class="action" data-action="{esc(a["action"])}" '
            f'data-resource="{esc(a["resource_id"])}">{body}</li>'
        )
    return '<ol class="plan">' + "".join(items) + "</ol>"


def _tactic_link(t: str) -> str:
    if re.fullmatch(r"TA[0-9]{4}", t or ""):
        name = esc(TACTICS.get(t, ""))
        return f'<a href="https://attack.mitre.org/tactics/{t}/">{esc(t)}</a> {name}'
    return esc(t)


def render_html(incident: Mapping[str, Any], target: Target) -> str:
    """The incident report as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    sev = str(incident.get("severity"))
    t = timings(incident)
    verdict = ""
    if t["alert_to_fix"] is not None:
        word = target.verdict(t["alert_to_fix"])
        verdict = f'<p class="{word}">{word.capitalize()} the {target.minutes:g}-minute target.</p>'
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{esc(incident['incident_id'])}: {esc(incident['title'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<h1 id="title"><span class="sev sev-{esc(sev)}">{esc(sev)}</span> '
        f"{esc(incident['title'])}</h1>",
        _table(["Field", "Value"], facts(incident), "facts"),
        "<h2>Timeline</h2>",
        timeline_svg(incident),
        "<h2>MITRE ATT&amp;CK</h2><ul>",
        "".join(f"<li>{_tactic_link(x)}</li>" for x in incident.get("mitre_tactics") or []),
        "</ul><p>Techniques: " + esc(join_values(incident.get("mitre_techniques"))) + "</p>",
        "<h2>Scope</h2>",
    ]
    for heading, headers, rows in scope_tables(incident):
        sections += [f"<h3>{esc(heading)}</h3>", _table(headers, rows)]
    sections += [
        f'<h2 id="dns">DNS lookups</h2><p>{esc(DNS_INTRO)}</p>',
        _table(DNS_HEADERS, dns_rows(incident), "dns"),
        f"<p>{esc(dns_shown(incident))}</p>" if dns_shown(incident) else "",
        "<h2>Principal activity</h2><p>Every call that changes something, made with the "
        "incident's keys or principals.</p>",
        _table(ACTIVITY_HEADERS, activity_rows(incident), "activity"),
        "<h2>Remediation plan</h2>",
        _plan_html(incident.get("remediation") or []),
        "<h2>Alerts</h2><ul>",
        "".join(f"<li><code>{esc(a)}</code></li>" for a in incident.get("alert_ids") or []),
        "</ul><p>Detections: " + esc(join_values(incident.get("detection_names"))) + "</p>",
        '<h2 id="hot-wash">Hot wash</h2><ul>',
        "".join(f"<li>{esc(x)}</li>" for x in hot_wash(incident, target)),
        "</ul>",
        verdict,
        "<p>Review questions:</p><ol>",
        "".join(f"<li>{esc(q)}</li>" for q in REVIEW_QUESTIONS),
        "</ol></body></html>",
    ]
    return "\n".join(sections) + "\n"
