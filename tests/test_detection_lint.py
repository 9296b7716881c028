"""Lint over all detections: metadata well formed, SQL analyzes against the table contracts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pyspark.sql import SparkSession

from jobs.detect.catalog import (
    ENTITY_TYPES,
    TACTIC_PATTERN,
    TECHNIQUE_PATTERN,
    Detection,
    detection_params,
    load_catalog,
    load_settings,
)
from jobs.detect.evaluate import check_output, enable_parameter_binding, evaluate
from jobs.detect.views import register_views
from jobs.enrich import EMPTY_INTEL
from jobs.enrich.intel import register_intel_views
from jobs.enrich.ip import register_sql_functions
from jobs.runtime.config import load_config
from schemas.alerts import SEVERITIES

CATALOG = load_catalog()
BY_NAME = pytest.mark.parametrize("detection", CATALOG, ids=[d.name for d in CATALOG])


@pytest.fixture(scope="module")
def empty_views(spark: SparkSession) -> SparkSession:
    """Every view a detection may read, empty, with the contract schemas."""
    enable_parameter_binding(spark)
    register_views(spark, {}, None)
    register_sql_functions(spark)
    register_intel_views(spark, EMPTY_INTEL)
    return spark


def test_ids_and_names_are_unique() -> None:
    assert len({d.id for d in CATALOG}) == len(CATALOG)
    assert len({d.name for d in CATALOG}) == len(CATALOG)


def test_catalog_covers_the_mission() -> None:
    names = {d.name for d in CATALOG}
    assert {
        "root_access_key_used", "key_pair_imported", "security_group_opened_to_world",
        "run_instances_burst", "mining_pool_traffic", "guardduty_high_risk_finding",
    } <= names


@BY_NAME
def test_metadata(detection: Detection) -> None:
    assert detection.path.stem == detection.name
    assert detection.path.with_suffix(".sql").is_file()
    assert detection.severity in SEVERITIES
    assert all(TECHNIQUE_PATTERN.match(t) for t in detection.techniques)
    assert all(TACTIC_PATTERN.match(t) for t in detection.tactics)
    assert all(e.type in ENTITY_TYPES for e in detection.entities)
    assert detection.dedupe_keys, "an alert needs dedupe keys"
    assert detection.runbook and detection.description and detection.false_positives
    assert not re.search(r"\{[a-z_]+\}", detection.sql), "SQL takes :parameters, never format slots"
    assert ":window_start" in detection.sql and ":window_end" in detection.sql


@BY_NAME
def test_has_positive_and_negative_cases(detection: Detection) -> None:
    expectations = [bool(case.get("expect")) for case in detection.tests]
    assert True in expectations, "needs a case that raises an alert"
    assert False in expectations, "needs a case that raises nothing"
    assert list(detection.meta)[-1] == "tests", "tests come last in the YAML"


@BY_NAME
def test_sql_analyzes_against_the_contracts(
    empty_views: SparkSession, detection: Detection
) -> None:
    params = detection_params(detection, load_settings(), load_config("test"))
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    rows = evaluate(empty_views, detection, params, start, end)  # raises unless it analyzes
    check_output(detection, rows.schema)
    if "severity" in rows.columns:
        assert rows.schema["severity"].dataType.simpleString() == "string"
