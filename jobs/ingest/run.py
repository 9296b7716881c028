"""The ingest job: new landing files -> silver tables, quarantine, manifest and accounting.

Writes are ordered so that a crash is safe: silver and quarantine are keyed MERGEs, and a file
enters the manifest only after its rows landed, so a rerun reprocesses it and adds nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.ingest import landing
from jobs.ingest.write import (
    add_quarantine,
    first_per_key,
    insert_new,
    quarantine_rows,
    record_files,
    upsert_newer,
)
from jobs.lakehouse import DQ_RESULTS, INGEST_RUNS, INGEST_TABLES, INGESTED_FILES, QUARANTINE
from jobs.quality.checks import CHECKS_PATH, load_checks
from jobs.quality.validate import (
    QualityOutcome,
    data_docs_dir,
    raise_on_fail,
    results_frame,
    validate_batch,
    write_data_docs,
)
from jobs.runtime.config import resolve_uri
from jobs.runtime.frames import local_frame, materialize, release
from jobs.sources import SOURCES, LogSource
from jobs.sources.readers import diagnose_unreadable

log = logging.getLogger("trailwarden.ingest")


@dataclass
class Accounting:
    """records_read = rows_written + duplicates + quarantined, per source and run.

    A file that cannot be split into records (unreadable, empty, not JSON) counts as one record.
    ``records_skipped`` counts items read that are not records (CloudWatch Logs control
    messages), as ``files_skipped`` counts files without records.
    """

    source: str
    files: int = 0
    files_skipped: int = 0
    records_read: int = 0
    rows_written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    records_skipped: int = 0

    def balanced(self) -> bool:
        return self.records_read == self.rows_written + self.duplicates + self.quarantined

    def line(self) -> str:
        return (
            f"{self.source}: files={self.files} skipped={self.files_skipped} "
            f"read={self.records_read} written={self.rows_written} "
            f"duplicates={self.duplicates} quarantined={self.quarantined}"
            + (f" records_skipped={self.records_skipped}" if self.records_skipped else "")
        )


@dataclass
class Batch:
    """One source's parsed and validated batch, not yet written."""

    source: LogSource
    files: list[landing.LandingFile]
    parsed: DataFrame  # materialized: contract columns + record + reason
    unique: DataFrame  # good rows, one per key
    quality: QualityOutcome | None
    unreadable: dict[str, str]
    file_rows: dict[str, str]  # source_file -> reason of its file-level row (skip or quarantine)
    counts: dict[str, int]
    released: bool = False

    def release(self) -> None:
        """Free the parsed and validated rows (the batch can no longer be written); once."""
        if not self.released:
            if self.quality:
                self.quality.release()
            release(self.parsed)
            self.released = True


def _order(source: LogSource) -> list[Column]:
    """Which of a batch's rows with one key is kept: the newest version, then the first seen."""
    lineage = [F.col("source_file"), F.col("record_index")]
    return ([F.col(source.upsert_on).desc()] if source.upsert_on else []) + lineage


def prepare(
    spark: SparkSession, source: LogSource, files: list[landing.LandingFile],
    checks: dict[str, Any], run_id: str, now: datetime, raw_max: int,
) -> Batch:
    """Parse, deduplicate and validate one source's new files; nothing is written."""
    paths = [f.path for f in files]
    parsed = materialize(source.parse(spark, paths, raw_max, run_id, F.lit(now)))
    category = (
        F.when(F.col("reason").isNull(), "good")
        .when(F.col("reason").startswith("skipped:"), "skipped")
        .otherwise("bad")
    )
    counts = {r[0]: r[1] for r in parsed.groupBy(category).count().collect()}
    file_rows = {
        r.source_file: r.reason
        for r in parsed.where("record_index IS NULL").select("source_file", "reason").collect()
    }
    seen = {r[0] for r in parsed.select("source_file").distinct().collect()}
    unreadable = diagnose_unreadable(spark, {f.path: f.size for f in files if f.path not in seen})
    good = parsed.where("reason IS NULL").drop("reason")
    unique = first_per_key(good, source.key, _order(source))
    quality = (
        validate_batch(unique, source.view, checks[source.view], run_id)
        if source.view in checks else None
    )
    log.info("%s: parsed %d files (%s)", source.name, len(files), counts)
    return Batch(source, files, parsed, unique, quality, unreadable, file_rows, counts)


def write_batch(
    spark: SparkSession, lakehouse: str, batch: Batch, run_id: str, now: datetime, raw_max: int
) -> Accounting:
    """Write one validated batch: silver rows, quarantine rows, then the file manifest."""
    source = batch.source
    valid = batch.quality.valid if batch.quality else batch.unique
    target = DeltaTable.forPath(spark, source.table.path(lakehouse))
    rows = valid.select(*source.table.schema.fieldNames())
    written = (
        upsert_newer(target, rows, source.key, source.upsert_on) if source.upsert_on
        else insert_new(target, rows, source.key)
    )
    bad = batch.parsed.where("reason IS NOT NULL AND NOT startswith(reason, 'skipped:')")
    rejected_count = 0
    if batch.quality:
        rejected = batch.quality.rejected.withColumnRenamed("dq_reason", "reason")
        rejected_count = rejected.count()
        bad = bad.select("source_file", "record_index", "reason", "record").unionByName(
            rejected.select(
                "source_file", "record_index", "reason", F.col(source.raw_column).alias("record")
            )
        )
    if batch.unreadable:
        unreadable = local_frame(
            spark,
            [(p, None, r, None) for p, r in batch.unreadable.items()],
            "source_file string, record_index bigint, reason string, record string",
        )
        bad = bad.select(*unreadable.columns).unionByName(unreadable)
    if batch.counts.get("bad", 0) or rejected_count or batch.unreadable:  # else: no MERGE to run
        qtable = DeltaTable.forPath(spark, QUARANTINE.path(lakehouse))
        add_quarantine(qtable, quarantine_rows(bad, source.name, "record", raw_max, run_id, now))

    good = batch.counts.get("good", 0)
    quarantined = batch.counts.get("bad", 0) + rejected_count + len(batch.unreadable)
    skipped = [p for p, r in batch.file_rows.items() if r.startswith("skipped:")]
    manifest = [
        (f.path, source.name, f.size, f.modified_at, _file_status(f.path, batch))
        for f in batch.files
    ]
    record_files(spark, INGESTED_FILES.path(lakehouse), manifest, run_id, now)
    batch.release()
    return Accounting(
        source=source.name,
        files=len(batch.files),
        files_skipped=len(skipped),
        records_read=good + batch.counts.get("bad", 0) + len(batch.unreadable),
        rows_written=written,
        duplicates=good - rejected_count - written,
        quarantined=quarantined,
        records_skipped=batch.counts.get("skipped", 0) - len(skipped),
    )


def _file_status(path: str, batch: Batch) -> str:
    if path in batch.unreadable:
        return "quarantined"
    reason = batch.file_rows.get(path)
    if reason is None:
        return "ingested"
    return "skipped" if reason.startswith("skipped:") else "quarantined"


def list_landing(conf: dict[str, Any], done: set[str] | None = None) -> list[landing.LandingFile]:
    """List the landing zone: the local file system, or S3 through boto3 for ``s3a://``.

    On S3, only the delivery days from the newest one in ``done`` (the manifest's paths) minus
    ``ingest.listing_lateness_days`` are listed, unless ``s3.incremental_listing`` is false.
    """
    uri = conf["landing"]
    if uri.startswith("s3a://"):
        from jobs.ingest.s3_listing import list_since, listing_start
        from jobs.runtime.aws import s3_client

        if not (conf.get("s3", {}) or {}).get("incremental_listing", True):
            return landing.list_s3(s3_client(conf), uri)
        lateness = int(conf.get("ingest", {}).get("listing_lateness_days", 1))
        return list_since(s3_client(conf), uri, listing_start(done or (), lateness))
    return landing.list_local(uri)


def ingested_paths(spark: SparkSession, lakehouse: str) -> set[str]:
    """Paths the manifest says were fully processed by an earlier run."""
    files = INGESTED_FILES.read(spark, lakehouse)
    return {r[0] for r in files.select("path").collect()}


def _other_files(
    spark: SparkSession, lakehouse: str, groups: dict[str, list[landing.LandingFile]],
    run_id: str, now: datetime,
) -> list[Accounting]:
    """Digests are skipped; files outside the known layout are quarantined, one row each."""
    out = []
    unknown = groups.get(landing.UNRECOGNIZED, [])
    if unknown:
        rows = local_frame(
            spark,
            [(f.path, None, "file is not in a recognised AWS delivery path", None) for f in unknown],
            "source_file string, record_index bigint, reason string, record string",
        )
        qtable = DeltaTable.forPath(spark, QUARANTINE.path(lakehouse))
        add_quarantine(qtable, quarantine_rows(rows, landing.UNRECOGNIZED, "record", 0, run_id, now))
        out.append(Accounting(landing.UNRECOGNIZED, files=len(unknown),
                              records_read=len(unknown), quarantined=len(unknown)))
    digests = [s.digest_name for s in SOURCES if groups.get(s.digest_name)]
    for name in digests:
        count = len(groups[name])
        out.append(Accounting(name, files=count, files_skipped=count))
    manifest = [
        (f.path, group, f.size, f.modified_at,
         "quarantined" if group == landing.UNRECOGNIZED else "skipped")
        for group in (landing.UNRECOGNIZED, *digests) for f in groups.get(group, [])
    ]
    record_files(spark, INGESTED_FILES.path(lakehouse), manifest, run_id, now)
    return out


def run_ingest(spark: SparkSession, conf: dict[str, Any], run_id: str) -> list[Accounting]:
    """Ingest every landing file not yet in the manifest; return the accounting per source."""
    started = datetime.now(timezone.utc)
    lakehouse = conf["lakehouse"]
    ingest_conf = conf.get("ingest", {})
    raw_max = int(ingest_conf.get("raw_max_chars", 4096))
    extra = {name: tuple(prefixes) for name, prefixes in
             (ingest_conf.get("extra_prefixes") or {}).items()}
    for table in INGEST_TABLES:
        table.ensure(spark, lakehouse)

    done = ingested_paths(spark, lakehouse)
    groups: dict[str, list[landing.LandingFile]] = {}
    for f in list_landing(conf, done):
        if f.path not in done:
            groups.setdefault(landing.classify(f.path, SOURCES, extra), []).append(f)
    log.info("landing: %s", {k: len(v) for k, v in groups.items()} or "no new files")

    quality_conf = conf.get("quality", {})
    checks = (
        load_checks(Path(resolve_uri(quality_conf.get("checks") or str(CHECKS_PATH))))
        if quality_conf.get("enabled", True) else {}
    )
    batches: list[Batch] = []
    try:
        for source in SOURCES:
            if groups.get(source.name):
                batches.append(prepare(spark, source, groups[source.name], checks, run_id,
                                       started, raw_max))
        outcomes = [b.quality for b in batches if b.quality]
        for outcome in outcomes:
            raise_on_fail(outcome)  # before anything is written
        if outcomes:
            DQ_RESULTS.append(results_frame(spark, outcomes, run_id), lakehouse)
            docs = data_docs_dir(lakehouse)
            if docs and quality_conf.get("data_docs", True):
                write_data_docs([o.validation for o in outcomes], docs)
        accounting = [write_batch(spark, lakehouse, b, run_id, started, raw_max) for b in batches]
    finally:  # a failed check or write: free what the batches still keep
        for b in batches:
            b.release()
    accounting += _other_files(spark, lakehouse, groups, run_id, started)
    finished = datetime.now(timezone.utc)
    rows = [
        (run_id, a.source, a.files, a.files_skipped, a.records_read, a.rows_written,
         a.duplicates, a.quarantined, started, finished, a.records_skipped)
        for a in accounting
    ]
    if rows:
        INGEST_RUNS.append(local_frame(spark, rows, INGEST_RUNS.schema), lakehouse)
    for a in accounting:
        log.info("%s%s", a.line(), "" if a.balanced() else "  (UNBALANCED)")
    return accounting
