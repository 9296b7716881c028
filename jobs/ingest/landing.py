"""The landing zone: list files and say which source each belongs to (AWS S3 delivery layout)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from jobs.sources.base import LogSource

UNRECOGNIZED = "unrecognized"

_DATE_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class LandingFile:
    """One object in the landing zone. ``path`` is the URI Spark reports for it."""

    path: str
    size: int
    modified_at: datetime


def classify(
    path: str, sources: Sequence[LogSource], extra_prefixes: Mapping[str, tuple[str, ...]] | None = None,
) -> str:
    """The group of ``path`` in the AWS delivery layout: a source's name, its digest name, or
    ``unrecognized``. ``extra_prefixes`` maps a source name to further path prefixes of it."""
    for source in sources:
        if source.is_digest(path):
            return source.digest_name
    for source in sources:
        if source.matches(path, (extra_prefixes or {}).get(source.name, ())):
            return source.name
    return UNRECOGNIZED


def delivery_date(path: str) -> str | None:
    """The ``YYYY-MM-DD`` of the ``/YYYY/MM/DD/`` prefix in ``path``, if any."""
    match = _DATE_IN_PATH.search(path)
    return "-".join(match.groups()) if match else None


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
                    datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc),
                )
            )
    return found


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
            found.append(LandingFile(f"s3a://{bucket}/{key}", obj["Size"], obj["LastModified"]))
    return found
