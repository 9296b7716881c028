"""Exceptions as data: ``conf/exceptions.yml`` (or ``--exceptions PATH``), entries that mark the
alerts they match as ``suppressed``.

Plain Python: loading checks every entry (one sentence naming the file and the entry), and
matching judges one alert's facts (field -> values, gathered by ``jobs.detect.tuning``). A value
is matched exactly, as a glob (``*``, ``?``, ``[...]``, by ``fnmatch``), as a CIDR block
(``source_ip`` only, by ``ipaddress``), or as a list of those (any may match). Every field of an
entry must match; an alert field with several values (source IPs, entities) matches when one does.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import yaml

from jobs.runtime.times import utc

# Alert fields an entry may match on, and what they hold.
MATCH_FIELDS = {
    "principal_arn": "the alert's principal ARN",
    "access_key_id": "the alert's access key",
    "account_id": "the alert's account",
    "region": "the alert's region",
    "source_ip": "any of the alert's source addresses (exact, glob or CIDR)",
    "asn": "the AS number of any of its source addresses",
    "user_agent_family": "the user-agent family of any of its evidence events",
    "resource": "the value of any of its entities (instance, bucket, role, key pair, ...)",
}
REQUIRED = ("id", "detections", "match", "reason", "owner", "expires")
GLOB_CHARS = frozenset("*?[")


class ExceptionsError(ValueError):
    """A malformed exceptions file, reported as one sentence naming the file and the entry."""


@dataclass(frozen=True)
class Pattern:
    """One value to match: ``exact``, ``glob`` or ``cidr``."""

    kind: str
    text: str

    def matches(self, value: str) -> bool:
        """Whether ``value`` (a string from the alert) matches."""
        if self.kind == "glob":
            return fnmatch.fnmatchcase(value, self.text)
        if self.kind == "cidr":
            try:
                return ipaddress.ip_address(value) in ipaddress.ip_network(self.text, strict=False)
            except ValueError:
                return False
        return value == self.text


@dataclass(frozen=True)
class ExceptionEntry:
    """One entry: which detections (``*`` for all), what it matches, why, whose, until when."""

    id: str
    detections: frozenset[str]
    match: tuple[tuple[str, tuple[Pattern, ...]], ...]
    reason: str
    owner: str
    expires: datetime

    def applies_to(self, detection_id: str, detection_name: str) -> bool:
        """Whether the entry covers the detection (by id or name)."""
        return "*" in self.detections or bool({detection_id, detection_name} & self.detections)

    def matches(self, facts: Mapping[str, Iterable[str]]) -> bool:
        """Whether every field of the entry matches one of the alert's values for it."""
        return all(
            any(p.matches(v) for p in patterns for v in facts.get(name, ()))
            for name, patterns in self.match
        )

    @property
    def fields(self) -> frozenset[str]:
        """The alert fields the entry names."""
        return frozenset(name for name, _ in self.match)


def _pattern(field: str, value: Any, fail: Any) -> Pattern:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise fail(f"match.{field} must be a string, a number or a list of them, not {value!r}")
    text = str(value).strip()
    if field == "asn":
        digits = text.upper().removeprefix("AS")
        if not digits.isdigit():
            raise fail(f"match.asn value {text!r} is not an AS number such as 16509 or AS16509")
        return Pattern("exact", str(int(digits)))
    if not text:
        raise fail(f"match.{field} has an empty value")
    if "/" in text and field == "source_ip":
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise fail(
                f"match.source_ip value {text!r} is not a CIDR block such as 203.0.113.0/24"
            ) from None
        return Pattern("cidr", text)
    return Pattern("glob" if GLOB_CHARS & set(text) else "exact", text)


def _expires(value: Any, fail: Any) -> datetime:
    """A date (expired from 00:00 UTC that day) or an ISO-8601 time, as aware UTC."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    try:
        return utc(datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
    except ValueError:
        raise fail(f"expires {value!r} is not a date such as 2027-03-01") from None


def parse_entry(raw: Any, index: int, known: frozenset[str], fail_at: Any) -> ExceptionEntry:
    """One entry of the file, checked; ``known``: detection ids and names."""
    label = f"entry {index}" + (
        f" ({raw.get('id')})" if isinstance(raw, dict) and raw.get("id") else ""
    )

    def fail(message: str) -> ExceptionsError:
        return fail_at(f"{label}: {message}.")

    if not isinstance(raw, dict):
        raise fail("must be a mapping with keys " + ", ".join(REQUIRED))
    missing = [k for k in REQUIRED if raw.get(k) in (None, "", [], {})]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    unknown = sorted(set(raw) - set(REQUIRED))
    if unknown:
        raise fail(f"unknown keys {', '.join(map(str, unknown))}")
    detections = raw["detections"]
    names = [detections] if isinstance(detections, str) else detections
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise fail("detections must be '*' or a list of detection ids or names")
    strange = sorted(set(names) - known - {"*"})
    if strange:
        raise fail(f"no detection named {', '.join(strange)}")
    if not isinstance(raw["match"], dict):
        raise fail("match must map alert fields to values")
    match = []
    for field, value in raw["match"].items():
        if field not in MATCH_FIELDS:
            raise fail(f"match.{field} is not one of {', '.join(MATCH_FIELDS)}")
        values = value if isinstance(value, list) else [value]
        if not values:
            raise fail(f"match.{field} is an empty list")
        match.append((str(field), tuple(_pattern(field, v, fail) for v in values)))
    return ExceptionEntry(
        str(raw["id"]),
        frozenset(names),
        tuple(match),
        str(raw["reason"]),
        str(raw["owner"]),
        _expires(raw["expires"], fail),
    )


def load_exceptions(path: Path, known: Iterable[str]) -> list[ExceptionEntry]:
    """Every entry of the exceptions file at ``path`` (none when it holds no list); raise
    ExceptionsError naming the file and the entry when one is malformed or an id repeats."""

    def fail_at(message: str) -> ExceptionsError:
        return ExceptionsError(f"{path}: {message}")

    if not path.is_file():
        raise fail_at("no such exceptions file.")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise fail_at(f"not valid YAML ({str(exc).splitlines()[0]}).") from None
    if not isinstance(data, dict) or set(data) - {"exceptions"}:
        raise fail_at("the file must hold one key, exceptions: a list of entries.")
    raw = data.get("exceptions") or []
    if not isinstance(raw, list):
        raise fail_at("exceptions must be a list of entries.")
    names = frozenset(known)
    entries = [parse_entry(e, i, names, fail_at) for i, e in enumerate(raw, start=1)]
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        if entry.id in seen:
            raise fail_at(f"entry {i} ({entry.id}): the id is already used by an earlier entry.")
        seen.add(entry.id)
    return entries


def split_expired(
    entries: Iterable[ExceptionEntry], now: datetime
) -> tuple[list[ExceptionEntry], list[ExceptionEntry]]:
    """``(active, expired)``: an entry expires at its ``expires`` time and matches nothing after."""
    entries = list(entries)
    return [e for e in entries if e.expires > now], [e for e in entries if e.expires <= now]


def first_match(
    entries: Iterable[ExceptionEntry],
    detection_id: str,
    detection_name: str,
    facts: Mapping[str, Iterable[str]],
) -> str | None:
    """The id of the first entry (in file order) that covers the detection and matches the facts."""
    for entry in entries:
        if entry.applies_to(detection_id, detection_name) and entry.matches(facts):
            return entry.id
    return None
