"""The landing zone: list files and say which source each belongs to (AWS S3 delivery layout)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

CLOUDTRAIL = "cloudtrail"
VPCFLOW = "vpcflow"
GUARDDUTY = "guardduty"
DIGEST = "cloudtrail_digest"
UNRECOGNIZED = "unrecognized"

_DATE_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/")


@dataclass(frozen=True)
class LandingFile:
    """One object in the landing zone. ``path`` is the URI Spark reports for it."""

    path: str
    size: int
    modified_at: datetime


def classify(path: str, extra_cloudtrail_prefixes: tuple[str, ...] = ()) -> str:
    """Return the source of ``path`` from its place in the AWS delivery layout."""
    if "/CloudTrail-Digest/" in path or "_CloudTrail-Digest_" in path:
        return DIGEST
    if "/CloudTrail/" in path or any(f"/{p.strip('/')}/" in path for p in extra_cloudtrail_prefixes):
        return CLOUDTRAIL
    if "/vpcflowlogs/" in path:
        return VPCFLOW
    if "/GuardDuty/" in path:
        return GUARDDUTY
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
