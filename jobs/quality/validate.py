"""Declarative data quality, the run: a batch's checks as one great-expectations suite, the
results per check, the ``_system/dq_results`` rows and the Data Docs site."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.metadata_types import FailureSeverity
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from jobs.quality.checks import (
    DQ_DOCS_DIR,
    Check,
    flag_checks,
    rejected_rows,
    valid_rows,
)
from jobs.runtime import frames
from schemas.system import DQ_RESULTS

log = logging.getLogger(__name__)

_DOCS_SITE = "trailwarden"
_SEVERITY = {
    "warn": FailureSeverity.INFO,
    "quarantine": FailureSeverity.WARNING,
    "fail": FailureSeverity.CRITICAL,
}


@dataclass(frozen=True)
class CheckResult:
    """The great-expectations verdict of one check on one batch."""

    table: str
    check: str
    action: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None


class QualityFailure(RuntimeError):
    """A ``fail`` check did not hold: the run must stop before writing."""


@dataclass
class QualityOutcome:
    """What validating one batch of one table produced.

    ``valid`` and ``rejected`` read the batch ``validate_batch`` materialized: write them, then
    call ``release`` (or use the outcome as a context manager).
    """

    table: str
    valid: DataFrame
    rejected: DataFrame
    results: list[CheckResult]
    failed_fail_checks: list[str]
    validation: ExpectationSuiteValidationResult
    validated_at: datetime
    _kept: DataFrame | None

    def release(self) -> None:
        """Free the batch ``validate_batch`` materialized (none when the input was cached)."""
        if self._kept is not None:
            frames.release(self._kept)
            self._kept = None

    def __enter__(self) -> QualityOutcome:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()




def _context(docs_dir: Path | None = None) -> AbstractDataContext:
    """An in-memory GX context without analytics or progress bars, optionally with a docs site."""
    sites = {}
    if docs_dir is not None:
        sites[_DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def build_suite(table: str, checks: Sequence[Check]) -> gx.ExpectationSuite:
    """The suite named ``table``: one in-set expectation on each check's flag column."""
    return gx.ExpectationSuite(
        name=table,
        expectations=[
            gxe.ExpectColumnValuesToBeInSet(
                column=c.flag,
                value_set=[True],
                description=f"{c.name} ({c.action}): {c.description} Predicate: {c.predicate}",
                severity=_SEVERITY[c.action],
                meta={"check": c.name, "action": c.action, "predicate": c.predicate},
            )
            for c in checks
        ],
    )


def _run_suite(
    flagged: DataFrame, table: str, checks: Sequence[Check], run: RunIdentifier
) -> ExpectationSuiteValidationResult:
    """Validate ``flagged`` once with the suite of ``checks`` (an ephemeral GX context)."""
    context = _context()
    # persist=False: validate_batch owns caching; GX would persist the frame and never release it.
    asset = context.data_sources.add_spark(name="trailwarden", persist=False).add_dataframe_asset(
        name=table
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(
            name=table,
            data=asset.add_batch_definition_whole_dataframe("batch"),
            suite=context.suites.add(build_suite(table, checks)),
        )
    )
    return definition.run(
        batch_parameters={"dataframe": flagged},
        # BASIC carries element and unexpected counts; sampled unexpected values are not needed.
        result_format={"result_format": "BASIC", "partial_unexpected_count": 0},
        run_id=run,
    )


def _check_results(
    table: str, checks: Sequence[Check], validation: ExpectationSuiteValidationResult
) -> list[CheckResult]:
    by_check = {
        r.expectation_config.meta["check"]: r
        for r in validation.results
        if r.expectation_config and r.expectation_config.meta
    }
    results = []
    for check in checks:
        outcome = by_check[check.name]
        if outcome.exception_info.get("raised_exception"):
            message = outcome.exception_info.get("exception_message")
            raise RuntimeError(
                f"great-expectations could not evaluate {table}.{check.name}: {message}"
            )
        counts = outcome.result
        results.append(
            CheckResult(
                table=table,
                check=check.name,
                action=check.action,
                success=bool(outcome.success),
                element_count=counts.get("element_count"),
                unexpected_count=counts.get("unexpected_count"),
                unexpected_percent=counts.get("unexpected_percent"),
            )
        )
    return results


def validate_batch(
    df: DataFrame, table: str, checks: Sequence[Check], run_id: str
) -> QualityOutcome:
    """Run the checks of ``table`` on one batch as one great-expectations suite.

    The batch is computed once: the flagged frame is materialized (``jobs.runtime.frames``)
    unless ``df`` is already cached (then flags are cheap to recompute from it). The outcome's
    ``valid`` (input
    columns) and ``rejected`` (input columns + ``dq_reason``) read it until ``outcome.release()``.
    """
    if not checks:
        raise ValueError(f"No quality checks declared for {table}.")
    validated_at = datetime.now(UTC)
    flagged = df.transform(flag_checks(checks))
    kept = None
    if df.storageLevel == StorageLevel.NONE:
        flagged = kept = frames.materialize(flagged)
    try:
        run = RunIdentifier(run_name=run_id, run_time=validated_at)
        validation = _run_suite(flagged, table, checks, run)
        results = _check_results(table, checks, validation)
    except Exception:
        if kept is not None:
            frames.release(kept)
        raise
    failed = [r for r in results if not r.success]
    log.info(
        "quality %s: %s rows, %d checks, failed: %s",
        table,
        results[0].element_count,
        len(results),
        ", ".join(f"{r.check}={r.unexpected_count} ({r.action})" for r in failed) or "none",
    )
    return QualityOutcome(
        table=table,
        valid=flagged.transform(valid_rows(checks)),
        rejected=flagged.transform(rejected_rows(checks)),
        results=results,
        failed_fail_checks=[r.check for r in failed if r.action == "fail"],
        validation=validation,
        validated_at=validated_at,
        _kept=kept,
    )


def raise_on_fail(outcome: QualityOutcome) -> None:
    """Raise ``QualityFailure`` when a ``fail`` check of ``outcome`` did not hold."""
    if not outcome.failed_fail_checks:
        return
    failed = ", ".join(
        f"{r.check} ({r.unexpected_count} of {r.element_count} rows)"
        for r in outcome.results
        if r.check in outcome.failed_fail_checks
    )
    raise QualityFailure(
        f"Data quality failed on {outcome.table}: {failed} did not hold; "
        "stopping before anything is written."
    )


def results_frame(
    spark: SparkSession, outcomes: Iterable[QualityOutcome], run_id: str
) -> DataFrame:
    """One ``DQ_RESULTS`` row per check of every outcome."""
    rows = [
        (
            run_id,
            r.table,
            r.check,
            r.action,
            r.success,
            r.element_count,
            r.unexpected_count,
            None if r.unexpected_percent is None else float(r.unexpected_percent),
            o.validated_at,
        )
        for o in outcomes
        for r in o.results
    ]
    return frames.local_frame(spark, rows, DQ_RESULTS)


def data_docs_dir(lakehouse: str) -> Path | None:
    """``<lakehouse>/_system/dq_docs`` for a local lakehouse; None for a remote one (s3a)."""
    uri = urlparse(lakehouse)
    if uri.scheme not in ("", "file"):
        return None
    return Path(uri.path if uri.scheme else lakehouse) / DQ_DOCS_DIR


def write_data_docs(
    validations: Iterable[ExpectationSuiteValidationResult], target_dir: Path
) -> Path:
    """Render ``validations`` as GX data docs under ``target_dir``; return the index page.

    Pages land at ``validations/<table>/<run_id>/<time>/<table>.html``. GX rebuilds the site from
    the given results and removes older pages: the docs show the latest run, ``dq_results`` keeps
    the history.
    """
    context = _context(target_dir)
    for validation in validations:
        table = validation.suite_name
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=table),
            run_id=validation.meta["run_id"],
            batch_identifier=table,
        )
        context.validation_results_store.set(key, validation)
    context.build_data_docs(site_names=[_DOCS_SITE])
    index = target_dir / "index.html"
    log.info("quality data docs: %s", index)
    return index
