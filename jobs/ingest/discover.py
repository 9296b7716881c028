"""Which landing files a run reads: the listing (local disk; S3 from per-root watermarks, or in
full once per ``s3.full_listing_every``), or S3 event notifications from SQS, and the manifest,
which says which version of each file was already processed.

``discover`` gathers the candidates; ``finish`` runs after the run committed their files to the
manifest: it quarantines malformed messages, deletes the messages and records the run in
``_system/discovery_runs`` (where the time of the last full listing is read back from).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.ingest import landing
from jobs.ingest.s3_notifications import Message, read_notice
from jobs.ingest.write import add_quarantine, quarantine_rows
from jobs.lakehouse import DISCOVERY_RUNS, INGESTED_FILES, QUARANTINE
from jobs.runtime.frames import local_frame
from jobs.runtime.times import parse_duration, utc

log = logging.getLogger("trailwarden.ingest")
MESSAGES = "s3_event"  # the quarantine and accounting source of malformed notifications

# path -> (size, modified_at, etag) of every version the manifest holds
Manifest = dict[str, list[tuple[int | None, datetime | None, str | None]]]


@dataclass
class Discovery:
    """What a run found to read, and the messages that announced it (deleted by ``finish``)."""

    files: list[landing.LandingFile]
    mode: str  # local | listing | notifications
    full_listing: bool
    started_at: datetime
    messages: list[Message] = field(default_factory=list)
    malformed: dict[str, str] = field(default_factory=dict)  # message id -> reason
    test_events: int = 0
    ignored: int = 0  # event records that announce no landing file of this zone


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


def last_full_listing(spark: SparkSession, lakehouse: str, uri: str) -> datetime | None:
    """When the newest committed run that listed the S3 landing zone ``uri`` in full started
    (None: never, or a local landing zone)."""
    if not uri.startswith("s3a://") or not DISCOVERY_RUNS.exists(spark, lakehouse):
        return None
    runs = DISCOVERY_RUNS.read(spark, lakehouse)
    last = runs.where((F.col("landing") == uri) & F.col("full_listing")).agg(
        F.max("started_at")).first()[0]
    return utc(last) if last else None


def full_listing_due(s3: dict[str, Any], last: datetime | None, now: datetime) -> bool:
    """Whether this run lists all of an S3 landing zone: never done, ``s3.full_listing_every``
    passed since the last one, or incremental listing switched off."""
    every = parse_duration(s3.get("full_listing_every", "1 day"))
    return not s3.get("incremental_listing", True) or last is None or now - last >= every


def latest_per_path(files: Iterable[landing.LandingFile]) -> list[landing.LandingFile]:
    """One candidate per path, the newest announced (duplicate or repeated notifications)."""
    newest: dict[str, landing.LandingFile] = {}
    for f in files:
        if f.path not in newest or f.modified_at > newest[f.path].modified_at:
            newest[f.path] = f
    return sorted(newest.values(), key=lambda f: f.path)


def discover(conf: dict[str, Any], done: Manifest, last_full: datetime | None,
             now: datetime) -> Discovery:
    """The candidate files of a run: a local landing zone listed whole; on S3 the notified
    files (``s3.notifications.queue_url``) or the incremental listing, plus everything when a
    full listing is due."""
    uri = conf["landing"]
    if not uri.startswith("s3a://"):
        return Discovery(landing.list_local(uri), "local", True, now)
    from jobs.ingest.s3_listing import list_new, split_uri, watermarks
    from jobs.runtime.aws import s3_client, sqs_client

    s3 = conf.get("s3", {}) or {}
    queue = (s3.get("notifications") or {}).get("queue_url") or ""
    full = full_listing_due(s3, last_full, now)
    found = Discovery([], "notifications" if queue else "listing", full, now)
    if queue:
        from jobs.ingest.s3_notifications import receive

        settings = s3["notifications"]
        visibility = int(parse_duration(settings.get("visibility_timeout", "30 minutes"))
                         .total_seconds())
        found.messages = receive(sqs_client(conf, queue), queue,
                                 int(settings.get("max_messages", 10000)), visibility)
        bucket, prefix = split_uri(uri)
        for m in found.messages:
            notice = read_notice(m.body, bucket, prefix)
            found.files += notice.files
            found.ignored += notice.ignored
            found.test_events += notice.test_event
            if notice.reason:
                found.malformed[m.message_id] = notice.reason
    client = s3_client(conf)
    if full:
        found.files += landing.list_s3(client, uri)
    elif not queue:
        lateness = int(conf.get("ingest", {}).get("listing_lateness_days", 1))
        found.files += list_new(client, uri, watermarks(done), lateness)
    found.files = latest_per_path(found.files)
    log.info("discovery: %s%s, %d files; %d messages (%d malformed, %d test events, %d records "
             "ignored)", found.mode, " and a full listing" if full else "", len(found.files),
             len(found.messages), len(found.malformed), found.test_events, found.ignored)
    return found


def quarantine_messages(spark: SparkSession, lakehouse: str, found: Discovery, queue: str,
                        raw_max: int, run_id: str, now: datetime) -> int:
    """Quarantine the malformed messages (keyed on the queue and message id: a message
    received again adds nothing); return how many."""
    bodies = {m.message_id: m.body for m in found.messages}
    rows = [(f"{queue}#{mid}", None, reason, bodies[mid])
            for mid, reason in found.malformed.items()]
    if rows:
        frame = local_frame(spark, rows,
                            "source_file string, record_index bigint, reason string, record string")
        add_quarantine(DeltaTable.forPath(spark, QUARANTINE.path(lakehouse)),
                       quarantine_rows(frame, MESSAGES, "record", raw_max, run_id, now))
    return len(rows)


def finish(spark: SparkSession, conf: dict[str, Any], found: Discovery, run_id: str,
           finished: datetime) -> None:
    """After the run committed its files: delete the messages that announced them (and the
    malformed ones, quarantined before), then record the discovery. A crash before the record
    only makes the next run list in full again."""
    if found.mode == "local":
        return
    deleted = 0
    if found.messages:
        from jobs.ingest.s3_notifications import delete
        from jobs.runtime.aws import sqs_client

        queue = conf["s3"]["notifications"]["queue_url"]
        deleted = delete(sqs_client(conf, queue), queue, found.messages)
    row = (run_id, conf["landing"], found.mode, found.full_listing, len(found.files),
           len(found.messages), len(found.malformed), found.test_events, found.ignored, deleted,
           found.started_at, finished)
    DISCOVERY_RUNS.ensure(spark, conf["lakehouse"])
    DISCOVERY_RUNS.append(local_frame(spark, [row], DISCOVERY_RUNS.schema), conf["lakehouse"])
    log.info("discovery: deleted %d of %d messages", deleted, len(found.messages))

