"""Identifiers, timestamps and times of day from a seeded random stream: same seed, same values."""

from __future__ import annotations

import calendar
import random
import string
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")
Span = tuple[int, int, float]  # (start second, end second, weight)

ALNUM = string.ascii_letters + string.digits
KEY_CHARS = string.ascii_uppercase + "234567"
WINDOW = 300  # CloudTrail and flow-log delivery interval, seconds
LAST_STAMP = 86_340  # 23:59, the latest delivery stamp kept inside the day


class Ids:
    """AWS-shaped identifiers from one `random.Random`; never uuid4 or the clock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        """A version-4-shaped UUID."""
        bits = self.rng.getrandbits(128)
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits & 3]}{h[17:20]}-{h[20:]}"

    def hex(self, n: int) -> str:
        """``n`` lowercase hex digits."""
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def resource(self, prefix: str) -> str:
        """A 17-hex EC2 resource id such as ``i-0abc...`` or ``eni-0abc...``."""
        return f"{prefix}-0{self.hex(16)}"

    def alnum(self, n: int) -> str:
        """``n`` characters of [A-Za-z0-9]."""
        return "".join(self.rng.choices(ALNUM, k=n))

    def key(self, prefix: str, n: int = 16) -> str:
        """An IAM-style id: ``AKIA``/``ASIA`` + 16, ``AIDA``/``AROA`` + 17 base32 characters."""
        return prefix + "".join(self.rng.choices(KEY_CHARS, k=n))

    def between(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (a faster ``randint``)."""
        return low + int(self.rng.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        """One element, uniformly."""
        return items[int(self.rng.random() * len(items))]

    def ip(self, prefix: str) -> str:
        """Complete a dotted prefix (``"52.216."`` or ``"52.216.8."``) to an address."""
        parts = prefix.rstrip(".").count(".") + 1
        rest = [str(self.between(1, 254)) for _ in range(4 - parts)]
        return prefix + ".".join(rest)


class Clock:
    """Formats seconds-of-day of one UTC ``day`` the way each AWS source does."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.epoch0 = calendar.timegm(day.timetuple())
        self.prefix = day.isoformat()
        self.path = day.strftime("%Y/%m/%d")
        self.hive_path = day.strftime("year=%Y/month=%m/day=%d")
        self.compact = day.strftime("%Y%m%d")

    def iso(self, sec: int) -> str:
        """CloudTrail ``eventTime``: ``YYYY-MM-DDTHH:MM:SSZ`` (``sec`` within the day)."""
        h, rem = divmod(sec, 3600)
        return f"{self.prefix}T{h:02d}:{rem // 60:02d}:{rem % 60:02d}Z"

    def iso_ms(self, sec: int, ms: int = 0) -> str:
        """GuardDuty timestamp: ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
        return f"{self.iso(sec)[:-1]}.{ms:03d}Z"

    def at(self, sec: int) -> datetime:
        """Seconds-of-day (may fall outside the day) as an aware datetime."""
        return datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC) + timedelta(
            seconds=sec
        )

    def stamp(self, sec: int) -> str:
        """File-name stamp ``YYYYMMDDTHHMMZ``."""
        return f"{self.compact}T{sec // 3600:02d}{sec % 3600 // 60:02d}Z"

    def delivery(self, window: int) -> int:
        """Second-of-day a 5-minute window is delivered at, kept inside the day."""
        return min((window + 1) * WINDOW, LAST_STAMP)


def seconds_of_day(moment: datetime) -> int:
    """``14:02:05`` -> 50525."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def hourly(weights: Sequence[float]) -> tuple[Span, ...]:
    """24 hour-long spans with the given weights (zero-weight hours dropped)."""
    return tuple((h * 3600, (h + 1) * 3600, w) for h, w in enumerate(weights) if w > 0)


def draw_times(rng: random.Random, spans: Sequence[Span], n: int) -> list[int]:
    """``n`` seconds-of-day drawn from weighted ``spans``, unsorted."""
    picks = rng.choices(spans, weights=[w for _, _, w in spans], k=n)
    return [a + int(rng.random() * (b - a)) for a, b, _ in picks]
