"""Which landing files a run reads: the listing (local disk, or S3 from per-root watermarks) and
the manifest, which says which version of each file was already processed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.ingest import landing
from jobs.lakehouse import INGESTED_FILES

# path -> (size, modified_at, etag) of every version the manifest holds
Manifest = dict[str, list[tuple[int | None, datetime | None, str | None]]]


def ingested_paths(spark: SparkSession, lakehouse: str) -> Manifest:
    """Every version of every file the manifest says an earlier run fully processed."""
    files = INGESTED_FILES.read(spark, lakehouse)
    etag = F.col("etag") if "etag" in files.columns else F.lit(None).cast("string")
    done: Manifest = {}
    for row in files.select("path", "size", "modified_at", etag.alias("etag")).collect():
        done.setdefault(row.path, []).append((row.size, row.modified_at, row.etag))
    return done


def new_files(
    listed: Iterable[landing.LandingFile], done: Manifest
) -> tuple[list[landing.LandingFile], frozenset[str]]:
    """The listed files whose version the manifest lacks, and the paths among them that it
    holds in another version (re-delivered under the same key with new content)."""
    fresh, again = [], set()
    for f in listed:
        versions = done.get(f.path, [])
        if not any(f.same_version(*v) for v in versions):
            fresh.append(f)
            if versions:
                again.add(f.path)
    return fresh, frozenset(again)


def file_version(f: landing.LandingFile) -> str:
    """A stable text naming one version of ``f``: its ETag, else size and modification time."""
    return f.etag or f"{f.size}@{f.modified_at.isoformat()}"


def list_landing(conf: dict[str, Any], done: Manifest | None = None) -> list[landing.LandingFile]:
    """List the landing zone: the local file system, or S3 through boto3 for ``s3a://``.

    On S3, each account/region root is listed from its own newest ingested delivery day in
    ``done`` minus ``ingest.listing_lateness_days`` (all of a root never ingested from), unless
    ``s3.incremental_listing`` is false.
    """
    uri = conf["landing"]
    if uri.startswith("s3a://"):
        from jobs.ingest.s3_listing import list_new, watermarks
        from jobs.runtime.aws import s3_client

        if not (conf.get("s3", {}) or {}).get("incremental_listing", True):
            return landing.list_s3(s3_client(conf), uri)
        lateness = int(conf.get("ingest", {}).get("listing_lateness_days", 1))
        return list_new(s3_client(conf), uri, watermarks(done or {}), lateness)
    return landing.list_local(uri)
