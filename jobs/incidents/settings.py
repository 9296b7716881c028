"""The ``incidents:`` section of the configuration, as one frozen value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jobs.runtime.times import parse_duration


@dataclass(frozen=True)
class Settings:
    """``incidents:`` in conf (durations as text, e.g. ``6 hours``)."""

    window: timedelta = timedelta(hours=6)  # alerts sharing an entity this close are one incident
    lookback: timedelta = timedelta(days=7)  # alerts regrouped each run, back from the newest
    history_days: int = 30  # key history read for first use and dormancy
    session_gap: timedelta = timedelta(hours=6)  # a quiet gap this long ends an activity session
    tail: timedelta = timedelta(hours=24)  # activity kept after the last alert

    @classmethod
    def of(cls, conf: Mapping[str, Any]) -> Settings:
        """The settings in ``conf``; a missing or empty entry keeps its default."""
        section = conf.get("incidents", {}) or {}
        defaults = cls()

        def duration(name: str) -> timedelta:
            text = section.get(name)
            return parse_duration(text) if text else getattr(defaults, name)

        return cls(
            window=duration("window"),
            lookback=duration("lookback"),
            history_days=int(section.get("history_days", defaults.history_days)),
            session_gap=duration("session_gap"),
            tail=duration("tail"),
        )
