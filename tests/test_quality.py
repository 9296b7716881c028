"""Data quality: the checks file, the flag transforms, and real great-expectations runs on Spark.

GX costs seconds per suite run, so the module validates two batches in all: one CloudTrail batch
shared by the outcome tests, and one flow-log batch that trips a ``fail`` check.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import BooleanType, StructField, StructType

from jobs.quality.checks import Check, flag_checks, load_checks
from jobs.quality.validate import (
    QualityFailure,
    QualityOutcome,
    data_docs_dir,
    raise_on_fail,
    results_frame,
    validate_batch,
    write_data_docs,
)
from jobs.runtime.config import ConfigError
from jobs.runtime.frames import local_frame
from jobs.sources import SOURCES
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.guardduty import GUARDDUTY_FINDINGS
from schemas.system import DQ_RESULTS
from schemas.vpcflow import VPC_FLOWS

CONTRACTS = {source.view: source.table.schema for source in SOURCES}
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
RUN_ID = "run-dq-test"


def rows(schema: StructType, spark: SparkSession, *records: dict[str, Any]) -> DataFrame:
    """A frame of ``schema``; columns a record leaves out are null."""
    return local_frame(spark, [tuple(r.get(f.name) for f in schema) for r in records], schema)


def nullable(schema: StructType) -> StructType:
    """``schema`` with every column nullable, to feed rows that break a NOT NULL contract."""
    return StructType([StructField(f.name, f.dataType, True) for f in schema])


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    """A well-formed CloudTrail row, with ``fields`` overriding the defaults."""
    event_time = fields.get("event_time", T0)
    return {
        "event_id": event_id,
        "event_time": event_time,
        "event_date": event_time.date(),
        "event_source": "iam.amazonaws.com",
        "event_name": "CreateUser",
        "aws_region": "us-east-1",
        "account_id": "123456789012",
        "source_ip": "203.0.113.7",
        "source_file": "s3://bucket/AWSLogs/f.json.gz",
        "record_index": 0,
        "ingested_at": T0,
        "run_id": RUN_ID,
        **fields,
    }


def flow(flow_id: str | None, **fields: Any) -> dict[str, Any]:
    """A well-formed flow-log row, with ``fields`` overriding the defaults."""
    return {
        "flow_id": flow_id,
        "srcport": 443,
        "dstport": 49152,
        "protocol": 6,
        "packets": 2,
        "bytes": 120,
        "start": 1714564800,
        "end": 1714564860,
        "action": "ACCEPT",
        "log_status": "OK",
        "event_date": date(2024, 5, 1),
        "source_file": "s3://bucket/AWSLogs/flows.log.gz",
        "record_index": 0,
        "ingested_at": T0,
        "run_id": RUN_ID,
        **fields,
    }


@pytest.fixture(scope="module")
def cloudtrail_batch(spark: SparkSession) -> DataFrame:
    future = datetime.now(UTC) + timedelta(days=3)
    return rows(
        CLOUDTRAIL_EVENTS,
        spark,
        event("e1"),
        event("e2", account_id="12345", aws_region="moon-base-one"),  # warn twice, kept
        event("e3", event_date=date(2024, 4, 30)),  # warn, kept
        event("e4", event_name=None),
        event("e5", event_source="evil.example.com", source_ip="x" * 300),
        event("e6", event_time=future),
        event("e7", event_name="", account_id="ANONYMOUS_PRINCIPAL"),
        event("e8", account_id=None, source_ip=None),
    )


@pytest.fixture(scope="module")
def outcome(cloudtrail_batch: DataFrame) -> Iterator[QualityOutcome]:
    checks = load_checks()["cloudtrail_events"]
    with validate_batch(cloudtrail_batch, "cloudtrail_events", checks, RUN_ID) as result:
        yield result


def test_checks_file_covers_the_silver_tables_and_every_predicate_analyzes(
    spark: SparkSession,
) -> None:
    checks = load_checks()
    assert set(checks) == set(CONTRACTS)
    for table, table_checks in checks.items():
        assert [c for c in table_checks if c.action == "fail"], f"{table} has no fail check"
        empty = local_frame(spark, [], CONTRACTS[table])
        flagged = empty.transform(flag_checks(table_checks))  # analysis only, no Spark job
        assert all(flagged.schema[c.flag].dataType == BooleanType() for c in table_checks)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{name: x, predicate: 'a > 0', action: drop, description: d}",
            "t check #1 (x) has unknown action 'drop'; expected one of warn, quarantine, fail.",
        ),
        ("{name: x, action: warn, description: d}", "t check #1 is missing 'predicate'"),
        ("{name: x, predicate: p, action: warn, description: d, when: y}", "unknown key 'when'"),
    ],
)
def test_load_checks_rejects_a_bad_check_in_one_sentence(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "quality.yml"
    path.write_text(f"t:\n  - {entry}\n")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_checks(path)


def test_load_checks_rejects_a_duplicate_name(tmp_path: Path) -> None:
    path = tmp_path / "quality.yml"
    check = "{name: x, predicate: p, action: warn, description: d}"
    path.write_text(f"t:\n  - {check}\n  - {check}\n")
    with pytest.raises(ConfigError, match="declares check 'x' more than once"):
        load_checks(path)


def failing_checks(flagged: DataFrame, key: str, checks: list[Check]) -> dict[str, set[str]]:
    """Row key -> names of the checks the row fails, from a frame flagged by ``flag_checks``."""
    return {r[key]: {c.name for c in checks if not r[c.flag]} for r in flagged.collect()}


def test_flow_log_predicates(spark: SparkSession) -> None:
    checks = load_checks()["vpc_flows"]
    batch = rows(
        VPC_FLOWS,
        spark,
        flow("ok"),
        flow(
            "bad",
            srcport=70000,
            protocol=300,
            action="DROP",
            log_status="BAD",
            bytes=-1,
            end=1714564700,
        ),
        flow(
            "nodata",
            srcport=None,
            dstport=None,
            protocol=None,
            action=None,
            log_status="NODATA",
            bytes=None,
            packets=None,
        ),
    )
    assert failing_checks(batch.transform(flag_checks(checks)), "flow_id", checks) == {
        "ok": set(),
        "bad": {
            "ports_in_range",
            "protocol_in_range",
            "action_known",
            "log_status_known",
            "counters_non_negative",
            "end_not_before_start",
        },
        "nodata": set(),
    }


def test_guardduty_predicates(spark: SparkSession) -> None:
    checks = load_checks()["guardduty_findings"]
    base = {
        "updated_at": T0,
        "event_date": T0.date(),
        "source_file": "f",
        "record_index": 0,
        "ingested_at": T0,
        "run_id": RUN_ID,
    }
    batch = rows(
        GUARDDUTY_FINDINGS,
        spark,
        {
            **base,
            "finding_id": "ok",
            "finding_type": "Recon:EC2/PortProbeUnprotectedPort",
            "severity": 5.0,
            "account_id": "123456789012",
            "created_at": T0 - timedelta(hours=1),
        },
        {
            **base,
            "finding_id": "bad",
            "finding_type": "",
            "severity": 11.0,
            "account_id": "abc",
            "created_at": T0 + timedelta(hours=1),
        },
        {
            **base,
            "finding_id": "odd",
            "finding_type": "Backdoor:EC2/C&CActivity.B!DNS",
            "severity": None,
            "account_id": "123456789012",
        },
    )
    assert failing_checks(batch.transform(flag_checks(checks)), "finding_id", checks) == {
        "ok": set(),
        "bad": {
            "finding_type_present",
            "severity_in_range",
            "finding_type_well_formed",
            "account_id_12_digits",
            "updated_not_before_created",
        },
        "odd": {"severity_in_range"},
    }


def test_rejected_holds_exactly_the_quarantined_rows_with_their_reasons(
    outcome: QualityOutcome,
) -> None:
    assert outcome.rejected.columns == [*CLOUDTRAIL_EVENTS.fieldNames(), "dq_reason"]
    assert sorted((r.event_id, r.dq_reason) for r in outcome.rejected.collect()) == [
        ("e4", "dq:event_name_present"),
        ("e5", "dq:event_source_is_aws_service,dq:source_ip_bounded"),
        ("e6", "dq:event_time_not_in_future"),
        ("e7", "dq:event_name_present"),
    ]


def test_valid_keeps_the_rest_and_warn_checks_remove_nothing(
    cloudtrail_batch: DataFrame, outcome: QualityOutcome
) -> None:
    def by_id(df: DataFrame) -> list[Row]:
        return sorted(df.collect(), key=lambda r: r.event_id)

    assert outcome.valid.schema == cloudtrail_batch.schema
    kept = cloudtrail_batch.where("event_id IN ('e1', 'e2', 'e3', 'e8')")
    assert by_id(outcome.valid) == by_id(kept)
    assert outcome.failed_fail_checks == []
    raise_on_fail(outcome)


def test_results_carry_the_great_expectations_counts(
    spark: SparkSession, outcome: QualityOutcome
) -> None:
    frame = results_frame(spark, [outcome], RUN_ID)
    assert frame.schema == DQ_RESULTS
    expected = [
        ("event_id_present", "fail", True, 0),
        ("event_name_present", "quarantine", False, 2),
        ("event_source_is_aws_service", "quarantine", False, 1),
        ("event_time_not_in_future", "quarantine", False, 1),
        ("source_ip_bounded", "quarantine", False, 1),
        ("account_id_12_digits", "warn", False, 2),
        ("aws_region_well_formed", "warn", False, 1),
        ("event_date_matches_event_time", "warn", False, 1),
    ]
    assert [tuple(r) for r in frame.drop("validated_at").collect()] == [
        (RUN_ID, "cloudtrail_events", name, action, ok, 8, bad, bad * 100 / 8)
        for name, action, ok, bad in expected
    ]
    assert frame.select("validated_at").distinct().count() == 1


def test_data_docs_render_the_suite(tmp_path: Path, outcome: QualityOutcome) -> None:
    index = write_data_docs([outcome.validation], tmp_path / "dq_docs")
    assert index == tmp_path / "dq_docs" / "index.html" and index.is_file()
    (page,) = (tmp_path / "dq_docs" / "validations" / "cloudtrail_events" / RUN_ID).rglob("*.html")
    html = page.read_text()
    assert "cloudtrail_events" in html and "event_source_is_aws_service" in html
    assert RUN_ID in index.read_text()


def test_data_docs_land_in_a_local_lakehouse_only() -> None:
    assert data_docs_dir("/data/lake") == Path("/data/lake/_system/dq_docs")
    assert data_docs_dir("file:///data/lake") == Path("/data/lake/_system/dq_docs")
    assert data_docs_dir("file:/data/lake") == Path("/data/lake/_system/dq_docs")
    assert data_docs_dir("s3a://bucket/lake") is None


def test_a_failed_fail_check_stops_the_run(spark: SparkSession) -> None:
    batch = rows(nullable(VPC_FLOWS), spark, flow("f1"), flow(None), flow("f3", srcport=-1))
    batch.cache()  # a batch the caller cached is used as is, and stays cached
    with validate_batch(batch, "vpc_flows", load_checks()["vpc_flows"], RUN_ID) as result:
        assert result.failed_fail_checks == ["flow_id_present"]
        with pytest.raises(QualityFailure) as failure:
            raise_on_fail(result)
    assert batch.storageLevel != StorageLevel.NONE
    batch.unpersist()
    assert str(failure.value) == (
        "Data quality failed on vpc_flows: flow_id_present (1 of 3 rows) did not hold; "
        "stopping before anything is written."
    )


def test_validate_batch_needs_checks(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="No quality checks declared for t"):
        validate_batch(spark.range(1), "t", [], RUN_ID)
