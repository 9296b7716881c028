"""Times and durations, under one rule: every datetime the code holds is timezone-aware UTC.

PySpark hands timestamps to Python as naive datetimes in the process's local zone, and reads naive
ones the same way. ``pin_process_to_utc`` (called by the session factory) makes that zone UTC, so a
naive datetime anywhere in a run is UTC and ``utc`` makes it aware. Durations in configuration and
on the command line: ``15 minutes``, ``1 hour``, ``24h``, ``7d``."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800,
}
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")


class DurationError(ValueError):
    """A duration that does not parse, reported as one sentence."""


def parse_duration(text: str | int) -> timedelta:
    """``"15 minutes"``, ``"1 hour"``, ``"24h"``, ``"7d"`` or a number of seconds -> timedelta."""
    if isinstance(text, int):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text).lower())
    if not match or match.group(2) not in _UNITS:
        raise DurationError(f"{text!r} is not a duration such as '15 minutes', '1 hour' or '7d'.")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def pin_process_to_utc() -> None:
    """Run this process in UTC (``TZ=UTC``): PySpark's naive datetimes are then UTC."""
    if os.environ.get("TZ") != "UTC":
        os.environ["TZ"] = "UTC"
        time.tzset()


def utc(ts: datetime) -> datetime:
    """``ts`` as an aware UTC datetime (naive values are taken as UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def naive(ts: datetime) -> datetime:
    """``ts`` as a naive UTC datetime, the form Spark returns with a UTC session time zone."""
    return utc(ts).replace(tzinfo=None)


def floor_time(ts: datetime, step: timedelta) -> datetime:
    """The start of the ``step``-long window (aligned to the Unix epoch) that holds ``ts``."""
    seconds = int(step.total_seconds())
    epoch = int(utc(ts).timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def ceil_time(ts: datetime, step: timedelta) -> datetime:
    """The end of the window that holds ``ts`` (``ts`` itself when already aligned)."""
    start = floor_time(ts, step)
    return start if start == utc(ts) else start + step


def parse_time(text: str) -> datetime:
    """An ISO-8601 date or timestamp (UTC unless an offset is given) -> aware datetime."""
    try:
        return utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise DurationError(
            f"{text!r} is not an ISO-8601 time such as 2026-11-20T14:00:00Z."
        ) from None
