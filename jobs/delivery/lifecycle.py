"""Deciding what each destination is sent, from the states a change feed returned and what the
ledger says it was sent before (pure: plain values in, deliveries out).

An incident triggers once; it is updated when it grows (more alerts) or its severity rises; it
resolves once when it becomes fixed, resolved or merged. An incident first seen already closed
is never sent. With ``on: alerts`` each new alert is sent once.

A delivery the ledger shows as ``pending`` with no outcome was being sent when a run stopped: it is
planned again with the same id and marked in doubt. One the receiver rejected in ``reject_limit``
runs is planned as abandoned (recorded, never sent again)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jobs.delivery.model import CLOSED, SEVERITY_RANK, Delivery
from jobs.delivery.settings import Destination

LIFECYCLE = ("trigger", "update", "resolve", "alert")


@dataclass(frozen=True)
class Announced:
    """The last state a destination was sent about one object."""

    action: str
    severity: str
    alert_count: int | None


def delivery_id(
    destination: str, source: str, object_id: str, action: str, severity: str,
    alert_count: int | None,
) -> str:
    """The idempotency key of one change: the same change always gets the same key."""
    state = f"{severity}|{alert_count}" if action == "update" else ""
    key = "|".join((destination, source, object_id, action, state))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def announced(history: Sequence[Mapping[str, Any]]) -> dict[str, Announced]:
    """Per object, the newest ``sent`` lifecycle row of the ledger."""
    sent = sorted(
        (r for r in history if r["status"] == "sent" and r["action"] in LIFECYCLE),
        key=lambda r: (r["time"], r["table_version"], LIFECYCLE.index(r["action"])),
    )
    return {r["object_id"]: Announced(r["action"], r["severity"], r["alert_count"]) for r in sent}


def next_action(state: Mapping[str, Any], last: Announced | None, dest: Destination) -> str | None:
    """What this state of an object means for the destination, or None."""
    if dest.route.on == "alerts":
        return "alert" if last is None and dest.route.matches(state) else None
    closed = state["status"] in CLOSED
    if last is None:
        return "trigger" if not closed and dest.route.matches(state) else None
    if last.action == "resolve":
        return None
    if closed:
        return "resolve"
    rank = SEVERITY_RANK.get(state["severity"], 0)
    grew = (state.get("alert_count") or 0) > (last.alert_count or 0)
    return "update" if rank > SEVERITY_RANK.get(last.severity, 0) or grew else None


def plan(
    dest: Destination, states: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]]
) -> list[Delivery]:
    """The deliveries for ``states`` (in table-version order), skipping what was already sent."""
    last = announced(history)
    failures = Counter(r["delivery_id"] for r in history if r["status"] in ("failed", "rejected"))
    rejections = Counter(r["delivery_id"] for r in history if r["status"] == "rejected")
    order = sorted(history, key=lambda r: (r["time"], r["status"] != "pending"))
    newest = {r["delivery_id"]: r["status"] for r in order}
    pending = {did for did, status in newest.items() if status == "pending"}
    out = []
    for state in states:
        oid = state["object_id"]
        action = next_action(state, last.get(oid), dest)
        if action is None:
            continue
        count = state.get("alert_count")
        did = delivery_id(dest.name, dest.source, oid, action, state["severity"], count)
        doc = {k: v for k, v in state.items() if not k.startswith("_")}
        out.append(Delivery(dest.name, dest.source, oid, action, did, int(state["_version"]),
                            state["severity"], count, failures[did] + 1, doc,
                            in_doubt=did in pending,
                            abandon=rejections[did] >= dest.policy.reject_limit))
        last[oid] = Announced(action, state["severity"], count)
    return out
