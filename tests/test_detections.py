"""Every detection's YAML test cases, run through its real SQL and the alert shaping on Spark."""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs.detect.catalog import Detection, load_catalog, load_settings
from jobs.detect.evaluate import sql_text
from jobs.runtime.config import load_config
from jobs.runtime.frames import local_frame
from jobs.sources.cloudtrail import ua_family
from tests.support.detection_cases import CaseViews, mismatches, run_case

CATALOG = load_catalog()
CASES = [
    pytest.param(d, case, id=f"{d.name}:{case.get('name', i)}")
    for d in CATALOG
    for i, case in enumerate(d.tests)
]


@pytest.fixture(scope="module")
def case_views(spark: SparkSession) -> CaseViews:
    return CaseViews(spark)


@pytest.fixture(scope="module")
def settings_and_conf() -> tuple[dict[str, Any], dict[str, Any]]:
    """Read and checked once for all cases (0.2 s each time)."""
    return load_settings(), load_config("test")


@pytest.mark.parametrize(("detection", "case"), CASES)
def test_case(
    case_views: CaseViews, settings_and_conf: tuple[dict[str, Any], dict[str, Any]],
    detection: Detection, case: dict[str, Any],
) -> None:
    actual = run_case(case_views, detection, case, *settings_and_conf)
    problems = mismatches(case.get("expect") or [], actual)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        ("aws-sdk-go/1.44.298 (go1.20.6; linux; amd64)", "aws-sdk-go"),
        ("aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21 md/GOOS#linux", "aws-sdk-go-v2"),
        ("APN/1.0 HashiCorp/1.0 Terraform/1.5.7 aws-sdk-go-v2/1.21.0", "terraform"),
        ("aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64 command/ec2.describe-instances",
         "aws-cli"),
        ("Boto3/1.28.0 md/Botocore#1.31.0 ua/2.0 os/linux#6.1 lang/python#3.11.4", "boto3"),
        ("aws-sdk-java/1.12.500 Linux/5.10 OpenJDK_64-Bit_Server_VM/17", "aws-sdk-java"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "console"),
        ("signin.amazonaws.com", "console"),
        ("ec2.amazonaws.com", "aws-service"),
        ("AWS Internal", "aws-internal"),
        ("stratus-red-team_1004a4ff", "other"),
        (None, "unknown"),
    ],
)
def test_ua_family(spark: SparkSession, agent: str | None, family: str) -> None:
    df = local_frame(spark, [(agent,)], "user_agent string")
    assert df.select(ua_family().alias("f")).first()["f"] == family


@pytest.mark.parametrize("text", ["Root's key", r"C:\temp\%s", "tab\there", "100% `x` \"q\""])
def test_metadata_text_reaches_sql_unchanged(spark: SparkSession, text: str) -> None:
    assert spark.sql(f"SELECT {sql_text(text)} AS v").first()["v"] == text
