"""Find new landing objects on S3 without listing the whole bucket on every run.

AWS delivers CloudTrail, VPC Flow Logs, GuardDuty exports and Resolver query logs under
``<root>/YYYY/MM/DD/`` prefixes (UTC days), where a root is one account, service and region (or
VPC): ``AWSLogs/<account>/CloudTrail/<region>/``. Each root has its own watermark, the newest
delivery day the manifest holds under it. A run lists, per root, only the days from its watermark
minus a lateness margin onward, and the whole of a root it has never ingested from. An account
or region that lags behind the others, or a new one backfilled with months of history, is
therefore listed from where it stands, not from where the newest one stands.

The year, month and day levels are walked with delimited listings (one request per level), so
only existing day prefixes are listed; a folder that is not a real date (``2026/13/``,
``2026/11/xx/``) is listed in full and its objects reach ingest, which reports them as
unrecognised. The directory levels above the roots are walked the same way; objects outside a
dated layout are always listed. The manifest still decides what is new: this only narrows what
is listed. Objects delivered later into a day older than its root's watermark (a backfill) are
found by the full listing ``jobs.ingest.discover`` runs once per ``s3.full_listing_every``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from typing import Any

from jobs.ingest.landing import LandingFile, dated_root, delivery_date, s3_landing_file

log = logging.getLogger("trailwarden.s3")
_YEAR = re.compile(r"\d{4}/")
_TWO_DIGITS = re.compile(r"\d{2}/")


def split_uri(uri: str) -> tuple[str, str]:
    """``s3a://bucket/some/prefix`` -> ``("bucket", "some/prefix/")`` (prefix "" at the root)."""
    bucket, _, prefix = uri.split("://", 1)[-1].partition("/")
    return bucket, (prefix.rstrip("/") + "/" if prefix.strip("/") else "")


def watermarks(ingested_paths: Iterable[str]) -> dict[str, date]:
    """Per dated root (``s3a://bucket/.../<region>/``), the newest delivery day ingested."""
    marks: dict[str, date] = {}
    for path in ingested_paths:
        root, day = dated_root(path), delivery_date(path)
        if root and day:
            marks[root] = max(marks.get(root, date.min), date.fromisoformat(day))
    return marks


def _objects(client: Any, bucket: str, prefix: str) -> Iterator[LandingFile]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield from _landing_file(bucket, obj)


def _landing_file(bucket: str, obj: dict[str, Any]) -> Iterator[LandingFile]:
    key = obj["Key"]
    if not key.endswith("/") and not key.rsplit("/", 1)[-1].startswith((".", "_")):
        yield s3_landing_file(bucket, obj)


def _level(client: Any, bucket: str, prefix: str) -> tuple[list[LandingFile], list[str]]:
    """Objects directly under ``prefix`` and the names of its child folders (``2026/``)."""
    files: list[LandingFile] = []
    children: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            files.extend(_landing_file(bucket, obj))
        children.extend(p["Prefix"][len(prefix):] for p in page.get("CommonPrefixes", []))
    return files, children


def _number(name: str, low: int, high: int) -> int | None:
    """The folder name ``name`` (``"07/"``) as a number within ``low..high``, else None."""
    value = int(name[:-1]) if _TWO_DIGITS.fullmatch(name) or _YEAR.fullmatch(name) else None
    return value if value is not None and low <= value <= high else None


def _day(year: int, month: int, name: str) -> date | None:
    """The day folder ``name`` (``"20/"``) of ``year``-``month`` as a date, else None."""
    try:
        return date(year, month, int(name[:-1])) if _TWO_DIGITS.fullmatch(name) else None
    except ValueError:
        return None


def _days_from(client: Any, bucket: str, root: str, years: list[str],
               start: date) -> Iterator[LandingFile]:
    """Objects under the ``root`` year folders ``years`` from day ``start`` on; folders that are
    not a real date are listed whole."""
    for year_name in years:
        year = _number(year_name, 1, 9999)
        if year is None:
            yield from _objects(client, bucket, root + year_name)
            continue
        if year < start.year:
            continue
        files, months = _level(client, bucket, root + year_name)
        yield from files
        for month_name in months:
            month = _number(month_name, 1, 12)
            if month is None:
                yield from _objects(client, bucket, root + year_name + month_name)
                continue
            if (year, month) < (start.year, start.month):
                continue
            prefix = root + year_name + month_name
            files, days = _level(client, bucket, prefix)
            yield from files
            for day_name in days:
                day = _day(year, month, day_name)
                if day is None or day >= start:
                    yield from _objects(client, bucket, prefix + day_name)


def list_new(
    client: Any, uri: str, marks: dict[str, date], lateness_days: int
) -> list[LandingFile]:
    """Objects under ``uri``: per dated root, the days from its watermark in ``marks`` minus
    ``lateness_days`` on (all of a root without one), plus every undated object."""
    bucket, base = split_uri(uri)
    margin = timedelta(days=max(0, lateness_days))
    found: list[LandingFile] = []
    pending = [base]
    listed_whole, listed_from = 0, 0
    while pending:
        prefix = pending.pop()
        files, children = _level(client, bucket, prefix)
        found += files
        years = [c for c in children if _YEAR.fullmatch(c)]
        pending += [prefix + c for c in children if not _YEAR.fullmatch(c)]
        if not years:
            continue
        mark = marks.get(f"s3a://{bucket}/{prefix}")
        if mark is None:
            listed_whole += 1
            found += [f for y in years for f in _objects(client, bucket, prefix + y)]
        else:
            listed_from += 1
            start = max(date.min + margin, mark) - margin
            found += _days_from(client, bucket, prefix, years, start)
    log.info("listed %s: %d dated roots from their watermark, %d in full", uri, listed_from,
             listed_whole)
    return sorted(found, key=lambda f: f.path)
