"""Plain values passed between the delivery steps: what to send, and what came of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Outcomes after which the cursor may move past a delivery.
FINAL = frozenset({"sent", "abandoned"})
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
# Incident statuses after which a destination gets a resolve (schemas/incidents.py STATUSES).
CLOSED = frozenset({"fixed", "resolved", "merged"})


@dataclass(frozen=True)
class Delivery:
    """One change of one alert or incident, for one destination.

    ``delivery_id`` is the idempotency key: the same change always gets the same id, so a
    re-send after a crash carries the id the receiver has already seen.
    """

    destination: str
    source: str
    object_id: str
    action: str  # trigger | update | resolve (incidents), alert (alerts), test
    delivery_id: str
    table_version: int
    severity: str
    alert_count: int | None
    attempt: int
    doc: Mapping[str, Any]  # the incident or alert row, plain Python values
    # An earlier run began sending this and stopped before recording the outcome.
    in_doubt: bool = False
    # The receiver rejected it in ``reject_limit`` runs: record it as abandoned, send nothing.
    abandon: bool = False

    @property
    def is_test(self) -> bool:
        return self.action == "test"


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to: ``sent``; ``failed`` (kept for the next run);
    ``rejected`` by the receiver (tried again next run, up to the limit); ``abandoned``."""

    delivery: Delivery
    status: str
    response: str | None = None
    error: str | None = None
