"""What a run writes to ``gold/incidents``: drafts finalized against the rows already there.

Pure: no session and no DataFrame (only the contract's types, to shape a row like the table).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pyspark.sql.types import ArrayType, DataType, StructType

from jobs.incidents.model import Draft
from schemas.incidents import INCIDENTS

# bookkeeping columns left out when deciding whether an incident changed
CONTENT_EXCLUDED = ("updated_at", "run_id", "created_at")
MANUAL_COLUMNS = (
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "resolution_note",
)


def shape(value: Any, dtype: DataType) -> Any:
    """``value`` with exactly the fields of ``dtype`` (missing ones None), recursively."""
    if value is None:
        return None
    if isinstance(dtype, StructType):
        return {f.name: shape(value.get(f.name), f.dataType) for f in dtype.fields}
    if isinstance(dtype, ArrayType):
        return [shape(v, dtype.elementType) for v in value]
    return value


def same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two incident rows hold the same values, bookkeeping columns aside."""

    def canon(row: Mapping[str, Any]) -> str:
        shaped = shape(row, INCIDENTS)
        return json.dumps(
            {k: v for k, v in shaped.items() if k not in CONTENT_EXCLUDED},
            sort_keys=True,
            default=str,
        )

    return canon(a) == canon(b)


def _keep_done(
    draft: dict[str, Any], old: Mapping[str, Any], withdrawn: set[tuple[str, str]]
) -> None:
    """An action once seen done stays done unless its resource came back since
    (``withdrawn``); ``actions_done`` and ``fixed_at`` follow."""
    previous_done = {
        (a["action"], a["resource_id"]): a for a in old.get("remediation") or [] if a.get("done")
    }
    for action in draft["remediation"]:
        kept = previous_done.get((action["action"], action["resource_id"]))
        if (
            kept
            and not action["done"]
            and (action["action"], action["resource_id"]) not in withdrawn
        ):
            action.update(
                done=True, done_at=kept["done_at"], done_by_event_id=kept["done_by_event_id"]
            )
    draft["actions_done"] = sum(1 for a in draft["remediation"] if a["done"])
    if draft["remediation"] and all(a["done"] for a in draft["remediation"]):
        draft["fixed_at"] = max(a["done_at"] for a in draft["remediation"])


def status_of(fixed_at: datetime | None, manual: Mapping[str, Any]) -> str:
    """resolved (by hand) > fixed (every action seen done) > acknowledged (by hand) > open."""
    if manual.get("resolved_at"):
        return "resolved"
    if fixed_at is not None:
        return "fixed"
    if manual.get("acknowledged_at"):
        return "acknowledged"
    return "open"


def finalize(
    drafts: Sequence[Draft],
    prior: Mapping[str, dict[str, Any]],
    run_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """The rows to MERGE: each draft with the manual state of its ``prior`` row carried over,
    its status set, kept only when it changed; plus a ``merged`` row for each incident a draft
    absorbed. ``prior``: incident id -> current ``gold/incidents`` row (aware times)."""
    out = []
    for draft in drafts:
        row = draft.row
        old = prior.get(row["incident_id"], {})
        _keep_done(row, old, draft.withdrawn)
        grew = bool(set(row["alert_ids"]) - set(old.get("alert_ids") or []))
        manual = {k: old.get(k) for k in MANUAL_COLUMNS}
        if old.get("status") == "resolved" and grew:  # new alerts reopen a resolved incident
            manual.update(resolved_at=None, resolved_by=None)
        final = {
            **row,
            **manual,
            "status": status_of(row["fixed_at"], manual),
            "merged_into": None,
            "created_at": old.get("created_at") or now,
            "updated_at": now,
            "run_id": run_id,
        }
        if not old or not same_content(final, old):
            out.append(final)
        for gone in draft.merged:
            if gone in prior and prior[gone]["status"] != "merged":
                out.append(
                    {
                        **prior[gone],
                        "status": "merged",
                        "merged_into": row["incident_id"],
                        "updated_at": now,
                        "run_id": run_id,
                    }
                )
    return out
