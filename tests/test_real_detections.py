"""The shipped CloudTrail detections over real attack logs from ../shared/data/real: every Stratus
Red Team detonation and Panther's compromised-root-credentials scenario, read by the ingest
transforms and evaluated together. Each technique a detection covers raises exactly the alerts
below; the other 27 detonations raise none.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.detect.catalog import detection_params, load_catalog, load_settings
from jobs.detect.evaluate import enable_parameter_binding, evaluate, to_alerts
from jobs.detect.views import register_views
from jobs.enrich.intel import load_intel, register_intel_views
from jobs.enrich.ip import register_sql_functions
from jobs.runtime.config import load_config
from jobs.sources.cloudtrail import normalize_records, with_cloudtrail_extras
from jobs.sources.json_records import split_records
from jobs.sources.readers import read_whole_files

PANTHER_ROOT = "panther-analysis/test_scenarios/compromised-root-creds/attacker_cloudtrail.json"
EXPECTED = {  # file name -> (detection, severity) of the alerts its events are evidence for
    "aws.defense-evasion.cloudtrail-stop.json": {("logging_tampering", "high")},
    "aws.defense-evasion.cloudtrail-delete.json": {("logging_tampering", "high")},
    "aws.defense-evasion.cloudtrail-event-selectors.json": {("logging_tampering", "high")},
    "aws.defense-evasion.vpc-remove-flow-logs.json": {("logging_tampering", "high")},
    "aws.exfiltration.ec2-security-group-open-port-22-ingress.json": {
        ("security_group_opened_to_world", "high")
    },
    "aws.execution.ec2-launch-unusual-instances.json": {
        ("run_instances_burst", "high"), ("expensive_instances_launched", "medium")
    },
    "aws.credential-access.ec2-get-password-data.json": {("enumeration_burst", "high")},
    "aws.discovery.ec2-download-user-data.json": {("enumeration_burst", "high")},
    # Root signs in without MFA, fails to stop logging, creates keys and launches an instance.
    "attacker_cloudtrail.json": {
        ("root_console_login", "critical"), ("root_access_key_created", "critical"),
        ("root_access_key_created", "high"), ("logging_tampering", "medium"),
        ("new_sdk_for_principal", "medium"), ("expensive_instances_launched", "high"),
    },
}


@pytest.fixture(scope="module")
def raised(spark: SparkSession, shared_real: Path) -> dict[str, set[tuple[str, str]]]:
    """File name -> (detection, severity) of every alert with evidence from that file."""
    files = sorted(str(p) for p in (shared_real / "stratus-red-team").glob("*.json"))
    files.append(str(shared_real / PANTHER_ROOT))
    events = normalize_records(
        split_records(read_whole_files(spark, files), 4096), "real", F.current_timestamp()
    ).where("reason IS NULL").drop("reason", "record")
    enable_parameter_binding(spark)
    register_sql_functions(spark)
    register_intel_views(spark, load_intel())
    register_views(spark, {"cloudtrail_events": with_cloudtrail_extras(events)}, None)
    conf, settings = load_config("test"), load_settings()
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for d in load_catalog():
        if "cloudtrail_events" not in d.source_tables:
            continue
        rows = evaluate(spark, d, detection_params(d, settings, conf), start, end)
        for alert in to_alerts(rows, d, 3600, "real", datetime.now(UTC)).collect():
            for evidence in alert["evidence"]:
                out[evidence["source_file"].rsplit("/", 1)[-1]].add((d.name, alert["severity"]))
    return dict(out)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_covered_technique_raises_its_alerts(raised: dict, name: str) -> None:
    assert raised.get(name, set()) == EXPECTED[name]


def test_other_detonations_raise_nothing(raised: dict, shared_real: Path) -> None:
    others = {p.name for p in (shared_real / "stratus-red-team").glob("*.json")} - set(EXPECTED)
    assert len(others) == 27
    assert {name: hits for name, hits in raised.items() if name in others} == {}
