"""Find new landing objects on S3 without listing the whole bucket on every run.

AWS delivers CloudTrail, VPC Flow Logs and GuardDuty exports under ``.../YYYY/MM/DD/`` prefixes
(UTC days). Once a lakehouse has ingested something, only the days from the newest ingested
delivery day minus a lateness margin up to today can hold new objects, so only those day prefixes
are listed. The directory levels above the days (``AWSLogs/<account>/<service>/<region>/``) are
walked with a delimiter, one request per level; objects outside a dated layout are always listed.
The manifest still decides what is new: this only narrows what is listed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

from jobs.ingest.landing import LandingFile, delivery_date

log = logging.getLogger("trailwarden.s3")
_YEAR = re.compile(r"\d{4}/")


def split_uri(uri: str) -> tuple[str, str]:
    """``s3a://bucket/some/prefix`` -> ``("bucket", "some/prefix/")`` (prefix "" at the root)."""
    bucket, _, prefix = uri.split("://", 1)[-1].partition("/")
    return bucket, (prefix.rstrip("/") + "/" if prefix.strip("/") else "")


def listing_start(ingested_paths: Iterable[str], lateness_days: int) -> date | None:
    """The first delivery day to list: newest ingested day minus the margin (None: list all)."""
    days = [d for d in (delivery_date(p) for p in ingested_paths) if d]
    if not days:
        return None
    return date.fromisoformat(max(days)) - timedelta(days=max(0, lateness_days))


def _objects(client: Any, bucket: str, prefix: str) -> Iterator[LandingFile]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield from _landing_file(bucket, obj)


def _landing_file(bucket: str, obj: dict[str, Any]) -> Iterator[LandingFile]:
    key = obj["Key"]
    if not key.endswith("/") and not key.rsplit("/", 1)[-1].startswith((".", "_")):
        yield LandingFile(f"s3a://{bucket}/{key}", obj["Size"], obj["LastModified"])


def _level(client: Any, bucket: str, prefix: str) -> tuple[list[LandingFile], list[str]]:
    """Objects directly under ``prefix`` and its child prefixes (one delimited listing)."""
    files: list[LandingFile] = []
    children: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            files.extend(_landing_file(bucket, obj))
        children.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return files, children


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def list_since(
    client: Any, uri: str, start: date | None, today: date | None = None
) -> list[LandingFile]:
    """Objects under ``uri`` whose delivery day is ``start`` or later, plus undated objects.

    ``start=None`` lists everything (a first run, or a backfill).
    """
    bucket, root = split_uri(uri)
    if start is None:
        log.info("listing all of %s", uri)
        return list(_objects(client, bucket, root))
    end = max(today or datetime.now(timezone.utc).date(), start)
    log.info("listing %s: delivery days %s to %s", uri, start, end)
    found: list[LandingFile] = []
    pending = [root]
    while pending:
        prefix = pending.pop()
        files, children = _level(client, bucket, prefix)
        found += files
        if any(_YEAR.fullmatch(c[len(prefix):]) for c in children):  # a dated root: list its days
            for day in _days(start, end):
                found += _objects(client, bucket, f"{prefix}{day:%Y/%m/%d}/")
            children = [c for c in children if not _YEAR.fullmatch(c[len(prefix):])]
        pending += children
    return sorted(found, key=lambda f: f.path)
