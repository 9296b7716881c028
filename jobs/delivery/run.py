"""The notify step: for each destination, read what changed since its cursor, plan, send, then
record the outcomes and move the cursor in one commit. One destination's failure is reported and
leaves the others, the tables and the run alone."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from jobs.delivery import feed, ledger, lifecycle
from jobs.delivery.context import Context
from jobs.delivery.destinations import module_for
from jobs.delivery.model import FINAL, Delivery, Outcome
from jobs.delivery.render import summary
from jobs.delivery.settings import Destination
from jobs.lakehouse import by_name as table_named
from jobs.runtime.terminal import safe

log = logging.getLogger("trailwarden.notify")

# Exit status when the tables are fine but at least one destination could not be reached.
DELIVERY_FAILED = 3


@dataclass
class DestinationResult:
    """What one destination got this run."""

    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    planned: int = 0
    cursor: int | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or any(o.status != "sent" for o in self.outcomes)

    @property
    def done(self) -> bool:
        """Every planned delivery settled: the cursor may move."""
        return (self.error is None and len(self.outcomes) == self.planned
                and all(o.status in FINAL for o in self.outcomes))

    def lines(self) -> list[str]:
        sent = sum(o.status == "sent" for o in self.outcomes)
        head = f"notify {self.name}: {sent} sent"
        if self.failed:
            waiting = self.planned - sum(o.status in FINAL for o in self.outcomes)
            reason = self.error or next(o.error for o in self.outcomes if o.status != "sent")
            head += f", FAILED ({safe(reason)}); {waiting} kept for the next run"
        elif self.cursor is not None:
            head += f", cursor at version {self.cursor}"
        out = [head]
        for o in self.outcomes:
            out.append(f"  {o.status:<6} {o.delivery.action:<8} {safe(summary(o.delivery))}")
        return out


@dataclass
class NotifySummary:
    results: list[DestinationResult] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.failed]

    def lines(self) -> list[str]:
        return [line for r in self.results for line in r.lines()]


def ledger_rows(
    outcomes: Sequence[Outcome], cursor: tuple[str, str, int] | None, run_id: str, now: datetime
) -> list[dict[str, Any]]:
    """Ledger rows for the outcomes, plus the cursor row ``(destination, source, version)``."""
    rows = [
        {
            "destination": d.destination, "source": d.source, "object_id": d.object_id,
            "action": d.action, "delivery_id": d.delivery_id, "table_version": d.table_version,
            "severity": d.severity, "alert_count": d.alert_count, "attempt": d.attempt,
            "status": o.status, "response": o.response, "error": o.error, "time": now,
            "run_id": run_id,
        }
        for o in outcomes
        for d in [o.delivery]
    ]
    if cursor:
        name, source, version = cursor
        rows.append({
            "destination": name, "source": source, "object_id": "", "action": "cursor",
            "delivery_id": "", "table_version": version, "severity": None, "alert_count": None,
            "attempt": 1, "status": "committed", "response": None, "error": None, "time": now,
            "run_id": run_id,
        })
    return rows


@dataclass(frozen=True)
class Source:
    """A change-feed source as this run sees it: its table and the version it delivers up to."""

    name: str
    path: str
    table: DeltaTable
    until: int


def open_source(spark: SparkSession, lakehouse: str, name: str) -> Source | None:
    """The source table with its feed on (ALTERed once if needed), or None when it is absent."""
    path = table_named(name).path(lakehouse)
    if feed.table(spark, path) is None:
        return None
    feed.ensure_change_feed(spark, path)
    table = feed.table(spark, path)
    assert table is not None
    return Source(name, path, table, feed.current_version(table))


def plan_destination(
    spark: SparkSession, lakehouse: str, dest: Destination, source: Source
) -> list[Delivery]:
    """The deliveries due to ``dest`` up to ``source.until``."""
    rows = ledger.read_rows(spark, lakehouse, dest.name, dest.source)
    cursor = ledger.cursor_of(rows)
    after = feed.change_feed_start(source.table) if cursor is None else cursor
    if cursor is not None and source.until <= after:
        return []
    states = feed.read_states(
        spark, source.path, dest.source, after, source.until, snapshot=cursor is None
    )
    ids = {s["object_id"] for s in states}
    return lifecycle.plan(dest, states, [r for r in rows if r["object_id"] in ids])


def notify_destination(
    spark: SparkSession, conf: Mapping[str, Any], dest: Destination, source: Source | None,
    run_id: str, now: datetime,
) -> DestinationResult:
    """Plan, send and record for one destination (nothing while its source is absent)."""
    result = DestinationResult(dest.name)
    if source is None:
        return result
    batch = plan_destination(spark, conf["lakehouse"], dest, source)
    result.planned = len(batch)
    result.outcomes = [Outcome(d, "abandoned", error=f"rejected in {d.attempt - 1} runs")
                       for d in batch if d.abandon]
    to_send = [d for d in batch if not d.abandon]
    module = module_for(dest.type)
    if to_send and not module.DEDUPLICATES:
        pending = [Outcome(d, "pending") for d in to_send]
        ledger.append(spark, conf["lakehouse"], ledger_rows(pending, None, run_id, now))
    if to_send:
        result.outcomes += module.deliver(dest, to_send, Context(conf))
    result.cursor = source.until if result.done else None
    cursor = (dest.name, dest.source, source.until) if result.done else None
    ledger.append(spark, conf["lakehouse"], ledger_rows(result.outcomes, cursor, run_id, now))
    return result


def run_notify(
    spark: SparkSession,
    conf: Mapping[str, Any],
    destinations: Sequence[Destination],
    run_id: str,
    now: datetime | None = None,
) -> NotifySummary:
    """Notify every destination; a failing one is reported, never raised."""
    out = NotifySummary()
    ledger.ledger(spark, conf["lakehouse"])
    sources: dict[str, Source | None] = {}
    for dest in destinations:
        try:
            if dest.source not in sources:
                sources[dest.source] = open_source(spark, conf["lakehouse"], dest.source)
            result = notify_destination(
                spark, conf, dest, sources[dest.source], run_id, now or datetime.now(UTC)
            )
        except Exception as exc:  # noqa: BLE001 - one destination never blocks the others
            log.warning("notify %s failed: %s", dest.name, exc, exc_info=log.isEnabledFor(10))
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            result = DestinationResult(dest.name, error=f"{type(exc).__name__}: {text}")
        out.results.append(result)
    return out


def send_test(conf: Mapping[str, Any], dest: Destination, now: datetime | None = None) -> Outcome:
    """One clearly marked test message to ``dest`` (no tables read or written)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    delivery = Delivery(
        dest.name, dest.source, f"test-{stamp}", "test",
        lifecycle.delivery_id(dest.name, "test", stamp, "test", "info", None), 0, "info", None,
        1, {"title": "trailwarden test message", "status": "test", "alert_time": now},
    )
    outcomes = module_for(dest.type).deliver(dest, [delivery], Context(conf))
    return outcomes[0]
