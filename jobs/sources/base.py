"""``LogSource``: everything trailwarden knows about one kind of log, in one value.

Ingest, quality checks, detection views, detection ids and the detection test harness iterate
over ``jobs.sources.SOURCES``; none of them names a source. Adding a source is one module here
(its spec and pure parse transforms), its schema in ``schemas/``, its quality checks in
``schemas/quality.yml``, a ``detections/<name>/`` folder, a generator in ``devtools/sample`` and
tests (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql.types import StructType

from jobs.runtime.delta import Table

# (spark, paths, raw_max_chars, run_id, ingested_at) -> rows of the silver contract plus
# ``record`` (raw text, on rows with a reason) and ``reason`` (null for a good row; ``skipped:``
# for rows that belong nowhere; anything else is quarantined).
Parser = Callable[[SparkSession, list[str], int, str, Column], DataFrame]


@dataclass(frozen=True)
class LogSource:
    """One log source.

    ``name`` is the source's id in accounting, the manifest, quarantine and the
    ``detections/<name>/`` folder; ``id_prefix`` its part of detection ids (``TW-CT-001``).
    A landing file belongs to the source when its path holds one of ``path_markers`` (the AWS
    delivery layout); ``digest_markers`` mark files of the source that hold no records (skipped).
    ``key`` identifies a row (a batch keeps one row per key); with ``upsert_on`` (a version
    column) a newer row replaces the stored one, else a stored key is never rewritten.
    ``raw_column`` holds a good row's raw text (quarantined with it when a check rejects it);
    ``raw_is_json`` says that text is one JSON document, nested at most ``ingest.max_nesting``
    levels deep or quarantined.
    Detections read the table as view ``view``, windowed on ``time_expression``, with
    ``view_extras`` added by ``add_view_columns`` (pure) and ``asn_lookups`` (address column ->
    prefix of the ``<prefix>asn``, ``as_org``, ``is_hosting`` columns). ``heavy_columns`` are left
    NULL in a view unless a detection names them. ``time_columns`` are the event-time columns a
    row must hold within ``earliest_time`` (the year the service launched) and the run's start
    plus ``ingest.max_future``, or be quarantined: a time of 1970 or 9999 would otherwise make
    detections read all history or overflow. ``case_time_column``, ``json_columns`` and
    ``complete_case_row`` (defaults derived from a row's given columns) serve the detection test
    cases.
    """

    name: str
    id_prefix: str
    path_markers: tuple[str, ...]
    table: Table
    key: str
    raw_column: str
    parse: Parser
    view: str
    time_expression: str
    case_time_column: str
    upsert_on: str | None = None
    raw_is_json: bool = False
    digest_markers: tuple[str, ...] = ()
    view_extras: StructType = StructType([])
    add_view_columns: Callable[[DataFrame], DataFrame] | None = None
    asn_lookups: tuple[tuple[str, str], ...] = ()
    heavy_columns: tuple[str, ...] = ()
    json_columns: tuple[str, ...] = ()
    complete_case_row: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    time_columns: tuple[str, ...] = ()
    earliest_time: str = "2006-01-01"

    @property
    def digest_name(self) -> str:
        """The manifest and accounting name of this source's record-less files."""
        return f"{self.name}_digest"

    @property
    def view_schema(self) -> StructType:
        """The silver contract plus the view's extra columns."""
        return StructType(list(self.table.schema.fields) + list(self.view_extras.fields))

    def matches(self, path: str, extra_prefixes: tuple[str, ...] = ()) -> bool:
        """Whether ``path`` is in this source's delivery layout (or under an extra prefix)."""
        markers = self.path_markers + tuple(f"/{p.strip('/')}/" for p in extra_prefixes)
        return any(m in path for m in markers)

    def is_digest(self, path: str) -> bool:
        """Whether ``path`` is one of this source's record-less files."""
        return any(m in path for m in self.digest_markers)
