"""Declarative data quality, the checks: ``schemas/quality.yml`` parsed into ``Check`` values, and
the pure transforms that flag, keep and reject rows by them (``jobs.quality.validate`` runs them
as great-expectations suites).

Each check is a Spark SQL predicate that a valid row satisfies, with an action: ``warn`` (report),
``quarantine`` (route failing rows out with reason ``dq:<name>``) or ``fail`` (stop the run before
anything is written). A batch is validated once per table: one boolean column per check, one suite
of ``expect_column_values_to_be_in_set([True])`` over those columns, counts taken from the result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.runtime.config import PROJECT_ROOT, ConfigError

CHECKS_PATH = PROJECT_ROOT / "schemas" / "quality.yml"
DQ_DOCS_DIR = "_system/dq_docs"
ACTIONS = ("warn", "quarantine", "fail")
BLOCKING = ("quarantine", "fail")
REASON_COLUMN = "dq_reason"
_FLAG_PREFIX = "_dq_"
_CHECK_KEYS = {"name", "predicate", "action", "description"}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Check:
    """One declared expectation: rows for which ``predicate`` is not true fail it."""

    name: str
    predicate: str
    action: str
    description: str

    @property
    def flag(self) -> str:
        """The boolean column holding this check's verdict per row."""
        return f"{_FLAG_PREFIX}{self.name}"


def load_checks(path: Path = CHECKS_PATH) -> dict[str, list[Check]]:
    """Read and validate the checks file: table name -> checks, in file order."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read the quality checks {path}: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path} must map table names to lists of checks.")
    return {str(table): _parse_table(path, str(table), entries) for table, entries in data.items()}


def _parse_table(path: Path, table: str, entries: Any) -> list[Check]:
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: {table} must hold a non-empty list of checks.")
    checks = [_parse_check(path, table, i, entry) for i, entry in enumerate(entries)]
    names = [c.name for c in checks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: {table} declares check {duplicates[0]!r} more than once.")
    return checks


def _parse_check(path: Path, table: str, index: int, entry: Any) -> Check:
    where = f"{path}: {table} check #{index + 1}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping with {', '.join(sorted(_CHECK_KEYS))}.")
    unknown = sorted(set(entry) - _CHECK_KEYS)
    if unknown:
        raise ConfigError(f"{where} has unknown key {unknown[0]!r}.")
    for key in sorted(_CHECK_KEYS):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"{where} is missing {key!r} (a non-empty string).")
    name, action = entry["name"], entry["action"]
    if not _NAME.match(name):
        raise ConfigError(f"{where} has name {name!r}; use lower_snake_case.")
    if action not in ACTIONS:
        raise ConfigError(
            f"{where} ({name}) has unknown action {action!r}; expected one of {', '.join(ACTIONS)}."
        )
    return Check(name, entry["predicate"].strip(), action, entry["description"].strip())


def flag_checks(checks: Sequence[Check]) -> Callable[[DataFrame], DataFrame]:
    """Transform adding one non-null boolean column ``_dq_<name>`` per check (NULL -> false)."""

    def transform(df: DataFrame) -> DataFrame:
        return df.withColumns(
            {c.flag: F.coalesce(F.expr(c.predicate), F.lit(False)) for c in checks}
        )

    return transform


def _passes(checks: Sequence[Check]) -> Column:
    """True where every blocking (quarantine or fail) check holds."""
    return reduce(
        lambda a, b: a & b, (F.col(c.flag) for c in checks if c.action in BLOCKING), F.lit(True)
    )


def valid_rows(checks: Sequence[Check]) -> Callable[[DataFrame], DataFrame]:
    """Transform of a flagged frame: rows passing every blocking check, flag columns dropped."""

    def transform(flagged: DataFrame) -> DataFrame:
        return flagged.where(_passes(checks)).drop(*(c.flag for c in checks))

    return transform


def rejected_rows(checks: Sequence[Check]) -> Callable[[DataFrame], DataFrame]:
    """Transform of a flagged frame: rows failing a blocking check, plus ``dq_reason``.

    ``dq_reason`` lists the failed blocking checks as ``dq:<name>``, comma-separated, in file order.
    """

    def transform(flagged: DataFrame) -> DataFrame:
        reasons = [
            F.when(~F.col(c.flag), F.lit(f"dq:{c.name}")) for c in checks if c.action in BLOCKING
        ]
        return (
            flagged.where(~_passes(checks))
            .withColumn(REASON_COLUMN, F.concat_ws(",", *reasons))
            .drop(*(c.flag for c in checks))
        )

    return transform
