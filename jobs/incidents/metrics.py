"""Response metrics: time from attack start to alert, detection latency, alert-to-fix."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from schemas.alerts import SEVERITIES


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    return None if later is None or earlier is None else (later - earlier).total_seconds()


def timings(incident: Mapping[str, Any]) -> dict[str, float | None]:
    """``start_to_alert``, ``detection_latency`` (processing: first alert written minus its
    event-time alert) and ``alert_to_fix`` (to ``fixed_at``, else ``resolved_at``) in seconds."""
    return {
        "start_to_alert": _seconds(incident.get("alert_time"), incident.get("started_at")),
        "detection_latency": _seconds(incident.get("detected_at"), incident.get("alert_time")),
        # a fix seen in CloudTrail, else the manual resolution (incidents with no actions)
        "alert_to_fix": _seconds(
            incident.get("fixed_at") or incident.get("resolved_at"), incident.get("alert_time")
        ),
    }


def over_target(incident: Mapping[str, Any], target_s: float, as_of: datetime) -> bool:
    """Fixed later than the target, or not fixed and already past it at ``as_of``."""
    fix = timings(incident)["alert_to_fix"]
    if fix is not None:
        return fix > target_s
    return (_seconds(as_of, incident.get("alert_time")) or 0.0) > target_s


def summarize(
    incidents: Sequence[Mapping[str, Any]],
    *,
    target_minutes: float,
    target_share: float,
    as_of: datetime,
    run_id: str,
) -> list[dict[str, Any]]:
    """One ``gold/response_metrics`` row per severity present, and one for ``all``.

    The share within target counts incidents fixed within ``target_minutes`` of the alert over
    incidents that are fixed or already past the target (open ones still inside it are pending).
    """
    live = [i for i in incidents if i.get("status") != "merged"]
    target_s = target_minutes * 60
    groups: dict[str, list[Mapping[str, Any]]] = {"all": live}
    for i in live:
        groups.setdefault(str(i["severity"]), []).append(i)
    order = ["all"] + [s for s in reversed(SEVERITIES) if s in groups]
    rows = []
    for severity in order:
        members = groups[severity]
        t = [timings(i) for i in members]
        row: dict[str, Any] = {
            "run_id": run_id,
            "computed_at": as_of,
            "severity": severity,
            "incidents": len(members),
            "fixed": sum(1 for x in t if x["alert_to_fix"] is not None),
        }
        for measure in ("start_to_alert", "detection_latency", "alert_to_fix"):
            values = [x[measure] for x in t if x[measure] is not None]
            for q in (50, 75, 90):
                row[f"{measure}_p{q}_s"] = percentile(values, q)  # type: ignore[arg-type]
        late = sorted(str(i["incident_id"]) for i in members if over_target(i, target_s, as_of))
        within = sum(
            1 for x in t if x["alert_to_fix"] is not None and x["alert_to_fix"] <= target_s
        )
        decided = within + len(late)
        share = within / decided if decided else None
        row.update(
            target_minutes=float(target_minutes),
            target_share=float(target_share),
            within_target=within,
            share_within_target=share,
            meets_target=None if share is None else share >= target_share,
            over_target=late,
        )
        rows.append(row)
    return rows
