"""Correlation: alerts -> incidents with activity, scope, remediation plan and fix state.

Gather, then decide: ``evidence`` does every Spark read and collect and hands plain values to
the pure steps (``draft`` per incident, ``fixes`` from CloudTrail's remediation calls, ``rows``
against the table's current rows). Nothing here reads or writes tables: the job passes the
frames in and MERGEs the rows this returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from jobs.incidents import evidence
from jobs.incidents.draft import draft_incident
from jobs.incidents.evidence import Sources
from jobs.incidents.fixes import apply_fixes, fix_targets
from jobs.incidents.model import aware
from jobs.incidents.rows import finalize
from jobs.incidents.settings import Settings


def correlate(
    sources: Sources,
    existing: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    run_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Incident rows (``schemas.incidents.INCIDENTS`` as dicts) to MERGE: new, changed and
    merged-away incidents. ``existing``: current ``gold/incidents`` rows as dicts."""
    prior = {r["incident_id"]: aware(dict(r)) for r in existing}
    active = {i: r for i, r in prior.items() if r["status"] != "merged"}
    alert_owner = {a: (i, r["created_at"]) for i, r in active.items() for a in r["alert_ids"]}
    keep = [a for r in active.values() if r["status"] != "resolved" for a in r["alert_ids"]]
    found = evidence.gather(sources, settings, keep, alert_owner)
    drafts = [
        draft_incident(iid, group, merged, found.incidents[iid], settings)
        for iid, group, merged in found.groups
    ]
    if drafts:
        since = min(d.row["started_at"] for d in drafts)
        apply_fixes(drafts, evidence.fix_calls(sources.cloudtrail, fix_targets(drafts), since))
    return finalize(drafts, prior, run_id, now)
