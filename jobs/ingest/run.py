"""The ingest job: new landing files -> silver tables, quarantine, manifest and accounting.

Writes are ordered so that a crash is safe: silver and quarantine are keyed MERGEs, and a file
enters the manifest only after its rows landed, so a rerun reprocesses it and adds nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobs.ingest import landing
from jobs.ingest.bounds import bound_times
from jobs.ingest.discover import (
    MESSAGES,
    discover,
    file_version,
    finish,
    ingested_paths,
    last_full_listing,
    new_files,
    quarantine_messages,
)
from jobs.ingest.limits import FileLimits, screen
from jobs.ingest.nesting import limit_nesting
from jobs.ingest.write import (
    FileOutcome,
    add_quarantine,
    first_per_key,
    insert_new,
    quarantine_rows,
    record_files,
    upsert_newer,
    written_per_file,
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
from jobs.runtime.times import parse_duration
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
    unreadable: dict[str, str]  # refused by a limit or unreadable -> reason
    file_rows: dict[str, str]  # source_file -> reason of its file-level row (skip or quarantine)
    per_file: dict[str, tuple[int, int]]  # source_file -> (good rows, rows with a reason)
    versions: dict[str, str]  # re-delivered file -> its version (part of its quarantine keys)
    skipped_records: int = 0  # items read that are not records (CloudWatch control messages)
    released: bool = False

    @property
    def good(self) -> int:
        """Good rows over the batch's files."""
        return sum(good for good, _ in self.per_file.values())

    @property
    def bad(self) -> int:
        """Rows with a reason to quarantine them, over the batch's files."""
        return sum(bad for _, bad in self.per_file.values())

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
    checks: dict[str, Any], run_id: str, now: datetime, raw_max: int, *,
    refused: dict[str, str] | None = None, max_future: str = "1 day", max_nesting: int = 100,
    redelivered: frozenset[str] = frozenset(),
) -> Batch:
    """Parse, limit nesting, bound, deduplicate and validate one source's new files; nothing is
    written.

    ``refused`` maps the files a limit keeps from being read to the reason; ``max_future`` is
    how far after ``now`` an event time may lie; ``max_nesting`` how deep a JSON record may
    nest; ``redelivered`` names files read before in another version.
    """
    refused = refused or {}
    readable = [f.path for f in files if f.path not in refused]
    rows = (source.parse(spark, readable, raw_max, run_id, F.lit(now)) if readable
            else local_frame(spark, [], _parsed_schema(source)))
    rows = limit_nesting(rows, source, max_nesting)
    parsed = materialize(bound_times(rows, source, now, max_future, parse_duration(max_future)))
    skipped = F.col("reason").startswith("skipped:")
    counted = parsed.groupBy("source_file").agg(
        F.count_if(F.col("reason").isNull()).alias("good"),
        F.count_if(F.col("reason").isNotNull() & ~skipped).alias("bad"),
        F.count_if(skipped).alias("skipped"),
    ).collect()
    per_file = {r.source_file: (int(r.good), int(r.bad)) for r in counted}
    file_rows = {
        r.source_file: r.reason
        for r in parsed.where("record_index IS NULL").select("source_file", "reason").collect()
    }
    unreadable = refused | diagnose_unreadable(
        spark, {f.path: f.size for f in files if f.path not in refused and f.path not in per_file})
    good = parsed.where("reason IS NULL").drop("reason")
    unique = first_per_key(good, source.key, _order(source))
    quality = (
        validate_batch(unique, source.view, checks[source.view], run_id)
        if source.view in checks else None
    )
    versions = {f.path: file_version(f) for f in files if f.path in redelivered}
    skipped_files = sum(reason.startswith("skipped:") for reason in file_rows.values())
    batch = Batch(source, files, parsed, unique, quality, unreadable, file_rows, per_file, versions,
                  sum(int(r.skipped) for r in counted) - skipped_files)
    log.info("%s: parsed %d files (%d good rows, %d to quarantine, %d files refused or unreadable)",
             source.name, len(files), batch.good, batch.bad, len(unreadable))
    return batch


def _parsed_schema(source: LogSource) -> StructType:
    """A parser's output: the silver contract, ``record`` and ``reason``."""
    return StructType(source.table.schema.fields + [StructField("record", StringType()),
                                                     StructField("reason", StringType())])


def write_batch(
    spark: SparkSession, lakehouse: str, batch: Batch, run_id: str, now: datetime, raw_max: int
) -> Accounting:
    """Write one validated batch: silver rows, quarantine rows, then the file manifest."""
    source = batch.source
    valid = batch.quality.valid if batch.quality else batch.unique
    good = batch.good
    written, written_by_file = 0, {}
    if good:
        target = DeltaTable.forPath(spark, source.table.path(lakehouse))
        rows = valid.select(*source.table.schema.fieldNames())
        written = (
            upsert_newer(target, rows, source.key, source.upsert_on) if source.upsert_on
            else insert_new(target, rows, source.key)
        )
        if written:
            written_by_file = written_per_file(source.table.read(spark, lakehouse), rows, run_id)
    bad = batch.parsed.where("reason IS NOT NULL AND NOT startswith(reason, 'skipped:')")
    bad = bad.select("source_file", "record_index", "reason", "record")
    rejected_by_file: dict[str, int] = {}
    if batch.quality:
        rejected = batch.quality.rejected.withColumnRenamed("dq_reason", "reason")
        rejected_by_file = {r[0]: r[1] for r in rejected.groupBy("source_file").count().collect()}
        bad = bad.unionByName(rejected.select(
            "source_file", "record_index", "reason", F.col(source.raw_column).alias("record")))
    if batch.unreadable:
        bad = bad.unionByName(local_frame(
            spark, [(p, None, r, None) for p, r in batch.unreadable.items()], _BAD_ROWS))
    rejected_count = sum(rejected_by_file.values())
    if batch.bad or rejected_count or batch.unreadable:  # else: no MERGE to run
        qtable = DeltaTable.forPath(spark, QUARANTINE.path(lakehouse))
        add_quarantine(qtable, quarantine_rows(_with_versions(spark, bad, batch.versions),
                                               source.name, "record", raw_max, run_id, now))

    outcomes = [_outcome(f, batch, written_by_file.get(f.path, 0),
                         rejected_by_file.get(f.path, 0)) for f in batch.files]
    record_files(spark, INGESTED_FILES.path(lakehouse), outcomes, run_id, now)
    batch.release()
    return Accounting(
        source=source.name,
        files=len(batch.files),
        files_skipped=sum(o.status == "skipped" for o in outcomes),
        records_read=good + batch.bad + len(batch.unreadable),
        rows_written=written,
        duplicates=good - rejected_count - written,
        quarantined=batch.bad + rejected_count + len(batch.unreadable),
        records_skipped=batch.skipped_records,
    )


_BAD_ROWS = "source_file string, record_index bigint, reason string, record string"


def _with_versions(spark: SparkSession, bad: DataFrame, versions: dict[str, str]) -> DataFrame:
    """``bad`` with ``file_version`` set on the rows of re-delivered files (null otherwise)."""
    if not versions:
        return bad
    frame = local_frame(spark, list(versions.items()), "source_file string, file_version string")
    return bad.join(F.broadcast(frame), "source_file", "left")


def _outcome(f: landing.LandingFile, batch: Batch, written: int, rejected: int) -> FileOutcome:
    """One file's manifest row: its status, reason and accounting."""
    name = batch.source.name
    if f.path in batch.unreadable:
        return FileOutcome(f, name, "quarantined", 1, 0, 0, 1, batch.unreadable[f.path])
    good, bad = batch.per_file.get(f.path, (0, 0))
    reason = batch.file_rows.get(f.path)
    status = ("ingested" if reason is None
              else "skipped" if reason.startswith("skipped:") else "quarantined")
    return FileOutcome(f, name, status, good + bad, written, good - rejected - written,
                       bad + rejected, reason)


def _other_files(
    spark: SparkSession, lakehouse: str, groups: dict[str, list[landing.LandingFile]],
    run_id: str, now: datetime, redelivered: frozenset[str],
) -> list[Accounting]:
    """Digests are skipped; files outside the known layout are quarantined, one row each."""
    out = []
    unknown = groups.get(landing.UNRECOGNIZED, [])
    reasons = {f.path: landing.unrecognized_reason(f.path, SOURCES) for f in unknown}
    if unknown:
        rows = local_frame(spark, [(p, None, r, None) for p, r in reasons.items()], _BAD_ROWS)
        versions = {f.path: file_version(f) for f in unknown if f.path in redelivered}
        qtable = DeltaTable.forPath(spark, QUARANTINE.path(lakehouse))
        add_quarantine(qtable, quarantine_rows(_with_versions(spark, rows, versions),
                                               landing.UNRECOGNIZED, "record", 0, run_id, now))
        out.append(Accounting(landing.UNRECOGNIZED, files=len(unknown),
                              records_read=len(unknown), quarantined=len(unknown)))
    digests = [s.digest_name for s in SOURCES if groups.get(s.digest_name)]
    for name in digests:
        count = len(groups[name])
        out.append(Accounting(name, files=count, files_skipped=count))
    manifest = [FileOutcome(f, landing.UNRECOGNIZED, "quarantined", 1, 0, 0, 1, reasons[f.path])
                for f in unknown]
    manifest += [FileOutcome(f, name, "skipped", reason="skipped: digest file")
                 for name in digests for f in groups[name]]
    record_files(spark, INGESTED_FILES.path(lakehouse), manifest, run_id, now)
    return out


def run_ingest(spark: SparkSession, conf: dict[str, Any], run_id: str) -> list[Accounting]:
    """Ingest every landing file not yet in the manifest (or re-delivered with new content);
    return the accounting per source."""
    started = datetime.now(UTC)
    lakehouse = conf["lakehouse"]
    ingest_conf = conf.get("ingest", {})
    raw_max = int(ingest_conf.get("raw_max_chars", 4096))
    max_future = str(ingest_conf.get("max_future", "1 day"))
    max_nesting = int(ingest_conf.get("max_nesting", 100))
    extra = {name: tuple(prefixes) for name, prefixes in
             (ingest_conf.get("extra_prefixes") or {}).items()}
    for table in INGEST_TABLES:
        table.ensure(spark, lakehouse)

    done = ingested_paths(spark, lakehouse)
    found = discover(conf, done, last_full_listing(spark, lakehouse, conf["landing"]), started)
    fresh, redelivered = new_files(found.files, done)
    groups: dict[str, list[landing.LandingFile]] = {}
    for f in fresh:
        groups.setdefault(landing.classify(f.path, SOURCES, extra), []).append(f)
    log.info("landing: %s; %d re-delivered with new content",
             {k: len(v) for k, v in groups.items()} or "no new files", len(redelivered))

    quality_conf = conf.get("quality", {})
    checks = (
        load_checks(Path(resolve_uri(quality_conf.get("checks") or str(CHECKS_PATH))))
        if quality_conf.get("enabled", True) else {}
    )
    limits = FileLimits.from_conf(ingest_conf)
    opener = _opener(conf)
    batches: list[Batch] = []
    try:
        for source in SOURCES:
            if groups.get(source.name):
                refused = screen(groups[source.name], limits, opener)
                batches.append(prepare(spark, source, groups[source.name], checks, run_id,
                                       started, raw_max, refused=refused, max_future=max_future,
                                       max_nesting=max_nesting, redelivered=redelivered))
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
    accounting += _other_files(spark, lakehouse, groups, run_id, started, redelivered)
    if found.malformed:
        queue = conf["s3"]["notifications"]["queue_url"]
        count = quarantine_messages(spark, lakehouse, found, queue, raw_max, run_id, started)
        accounting.append(Accounting(MESSAGES, records_read=count, quarantined=count))
    finished = datetime.now(UTC)
    rows = [
        (run_id, a.source, a.files, a.files_skipped, a.records_read, a.rows_written,
         a.duplicates, a.quarantined, started, finished, a.records_skipped)
        for a in accounting
    ]
    if rows:
        INGEST_RUNS.append(local_frame(spark, rows, INGEST_RUNS.schema), lakehouse)
    finish(spark, conf, found, run_id, datetime.now(UTC))
    for a in accounting:
        log.info("%s%s", a.line(), "" if a.balanced() else "  (UNBALANCED)")
    return accounting


def _opener(conf: dict[str, Any]) -> Callable[[str], BinaryIO]:
    """Opens landing files for the limit checks (boto3 for an ``s3a://`` landing zone)."""
    if not str(conf["landing"]).startswith("s3a://"):
        return landing.open_landing
    from jobs.runtime.aws import s3_client

    client = s3_client(conf)
    return lambda path: landing.open_landing(path, client)
