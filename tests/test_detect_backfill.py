"""A first run's output names the landed events it did not evaluate; --backfill evaluates them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.commands.detect import parse_args
from jobs.detect.run import BACKFILL_LOOKBACK, Settings, Summary, _skipped
from jobs.detect.state import Snapshot
from jobs.sources import CLOUDTRAIL

DAY = timedelta(days=1)
NEWEST = datetime(2026, 11, 20, 14, tzinfo=UTC)


def snap(oldest: datetime) -> Snapshot:
    return Snapshot(CLOUDTRAIL, "lake/silver/cloudtrail_events", 3, oldest, NEWEST, None)


def test_a_year_of_landed_logs_is_reported_as_not_evaluated() -> None:
    skipped = _skipped([snap(NEWEST - 365 * DAY)], 30 * DAY)
    assert skipped == (NEWEST - 365 * DAY, NEWEST - 30 * DAY)
    summary = Summary(detections=2, windows=720)
    summary.skipped_from, summary.skipped_to = skipped
    assert "NOT evaluated: events from 2025-11-20 14:00 to 2026-10-21 14:00 UTC" in str(summary)
    assert "detect --backfill" in str(summary)


def test_nothing_is_reported_when_the_lookback_covers_the_data_or_on_a_backfill() -> None:
    assert _skipped([snap(NEWEST - 3 * DAY)], 30 * DAY) == (None, None)
    assert _skipped([snap(NEWEST - 365 * DAY)], BACKFILL_LOOKBACK) == (None, None)
    assert "NOT evaluated" not in str(Summary())


def test_backfill_flag_and_setting() -> None:
    assert parse_args(["--backfill"]).backfill
    assert not parse_args([]).backfill
    assert Settings.of({"detect": {"backfill": True}}).backfill
    assert not Settings.of({}).backfill
