"""The landing zone: list files and say which source each belongs to (AWS S3 delivery layout)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, cast

from jobs.runtime.times import utc
from jobs.sources.base import LogSource

UNRECOGNIZED = "unrecognized"
NOT_IN_LAYOUT = "file is not in a recognised AWS delivery path"
BAD_DATE = "the delivery date in the path is not a valid /YYYY/MM/DD/ date"

_DATE_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")
_YEAR_DIR = re.compile(r"/\d{4}/")


@dataclass(frozen=True)
class LandingFile:
    """One object in the landing zone. ``path`` is the URI Spark reports for it; ``etag`` is the
    S3 ETag (None on local disk, where size and ``modified_at`` tell versions apart)."""

    path: str
    size: int
    modified_at: datetime
    etag: str | None = None

    def same_version(self, size: int | None, modified_at: datetime | None,
                     etag: str | None) -> bool:
        """Whether a manifest row (``size``, ``modified_at``, ``etag``) is this version of the
        file: same size, and the same ETag where both have one, else the same modification time.
        A file re-delivered under the same key with new content is therefore a new version."""
        if size != self.size:
            return False
        if etag and self.etag:
            return etag == self.etag
        return modified_at is not None and utc(modified_at) == utc(self.modified_at)


def classify(
    path: str, sources: Sequence[LogSource],
    extra_prefixes: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The group of ``path`` in the AWS delivery layout: a source's name, its digest name, or
    ``unrecognized``. ``extra_prefixes`` maps a source name to further path prefixes of it."""
    for source in sources:
        if source.is_digest(path):
            return source.digest_name
    for source in sources:
        if source.matches(path):
            return UNRECOGNIZED if bad_delivery_date(path, source) else source.name
    for source in sources:
        if source.matches(path, (extra_prefixes or {}).get(source.name, ())):
            return source.name
    return UNRECOGNIZED


def unrecognized_reason(path: str, sources: Sequence[LogSource]) -> str:
    """Why ``path`` (classified ``unrecognized``) belongs to no source: one sentence."""
    return BAD_DATE if any(s.matches(path) and bad_delivery_date(path, s) for s in sources) \
        else NOT_IN_LAYOUT


def bad_delivery_date(path: str, source: LogSource) -> bool:
    """Whether, after ``source``'s path marker, ``path`` has a year folder (``/YYYY/``) that does
    not start a real ``/YYYY/MM/DD/`` date (``2026/13/45/``, ``2026/11/x.gz``)."""
    marker = next(m for m in source.path_markers if m in path)
    rest = path[path.index(marker) + len(marker) - 1:]
    year = _YEAR_DIR.search(rest)
    if year is None:
        return False
    dated = _DATE_IN_PATH.match(rest, year.start())
    return dated is None or _valid_date(*dated.groups()) is None


def _valid_date(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def delivery_date(path: str) -> str | None:
    """The ``YYYY-MM-DD`` of the first ``/YYYY/MM/DD/`` prefix in ``path`` when it is a real
    date, else None."""
    match = _DATE_IN_PATH.search(path)
    day = _valid_date(*match.groups()) if match else None
    return day.isoformat() if day else None


def dated_root(path: str) -> str | None:
    """The part of ``path`` before its ``/YYYY/MM/DD/`` delivery day, with the trailing slash
    (``s3a://b/AWSLogs/1/CloudTrail/us-east-1/``): one account, service and region."""
    match = _DATE_IN_PATH.search(path)
    return path[: match.start() + 1] if match and delivery_date(path) else None


def local_uri(path: str) -> str:
    """The URI Spark reports for a local file (``file:/abs/path``)."""
    return "file:" + os.path.abspath(path)


def list_local(root: str) -> list[LandingFile]:
    """Every regular file under the local directory ``root``, hidden files excluded."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Landing zone {root} does not exist or is not a directory.")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.startswith((".", "_")):
                continue
            full = os.path.join(dirpath, name)
            stat = os.stat(full)
            found.append(
                LandingFile(
                    local_uri(full),
                    stat.st_size,
                    datetime.fromtimestamp(stat.st_mtime, tz=UTC),
                )
            )
    return found


def s3_landing_file(bucket: str, obj: dict[str, Any]) -> LandingFile:
    """The landing file of one ``list_objects_v2`` entry."""
    etag = str(obj.get("ETag") or "").strip('"') or None
    return LandingFile(f"s3a://{bucket}/{obj['Key']}", obj["Size"], obj["LastModified"], etag)


def open_landing(path: str, client: Any = None) -> BinaryIO:
    """Open the landing file ``path`` for streaming: a local ``file:`` URI, or an ``s3a://``
    object through the boto3 S3 ``client``."""
    if path.startswith("s3a://"):
        bucket, _, key = path.removeprefix("s3a://").partition("/")
        return cast(BinaryIO, client.get_object(Bucket=bucket, Key=key)["Body"])
    return open(path.removeprefix("file:"), "rb")


def list_s3(client: Any, uri: str) -> list[LandingFile]:
    """Every object under ``s3a://bucket/prefix`` listed with a boto3 S3 ``client``."""
    bucket, _, prefix = uri.removeprefix("s3a://").partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/") or key.rsplit("/", 1)[-1].startswith((".", "_")):
                continue
            found.append(s3_landing_file(bucket, obj))
    return found
