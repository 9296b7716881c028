"""The shipped CloudTrail detections over real attack logs from ../shared/data/real: every Stratus
Red Team detonation and Panther's compromised-root-credentials scenario, read by the ingest
transforms and evaluated together (user agents as captured). Each file raises exactly the alerts
below (see tests/test_real_coverage.py for coverage with the attack tool's marker removed).
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
    "aws.credential-access.ec2-get-password-data.json": {
        ("enumeration_burst", "high"), ("password_data_retrieved", "medium"),
    },
    "aws.credential-access.ec2-steal-instance-credentials.json": {
        ("instance_credentials_outside", "medium"), ("remote_execution_new_principal", "high"),
    },
    "aws.credential-access.secretsmanager-batch-retrieve-secrets.json": {
        ("secrets_bulk_read", "medium"),
    },
    "aws.credential-access.secretsmanager-retrieve-secrets.json": {("secrets_bulk_read", "high")},
    "aws.credential-access.ssm-retrieve-securestring-parameters.json": {
        ("secrets_bulk_read", "high"),
    },
    "aws.defense-evasion.cloudtrail-delete.json": {("logging_tampering", "high")},
    "aws.defense-evasion.cloudtrail-event-selectors.json": {("logging_tampering", "high")},
    "aws.defense-evasion.cloudtrail-stop.json": {("logging_tampering", "high")},
    "aws.defense-evasion.dns-delete-logs.json": {("logging_tampering", "high")},
    "aws.defense-evasion.organizations-leave.json": {
        ("logging_tampering", "medium"), ("sensitive_call_refused", "low"),
    },
    "aws.defense-evasion.vpc-remove-flow-logs.json": {("logging_tampering", "high")},
    "aws.discovery.ec2-download-user-data.json": {("enumeration_burst", "high")},
    "aws.execution.ec2-launch-unusual-instances.json": {
        ("expensive_instances_launched", "medium"), ("run_instances_burst", "medium"),
    },
    "aws.execution.ec2-user-data.json": {("remote_execution_new_principal", "high")},
    "aws.execution.ssm-send-command.json": {("remote_execution_new_principal", "high")},
    "aws.execution.ssm-start-session.json": {("remote_execution_new_principal", "high")},
    "aws.exfiltration.ec2-security-group-open-port-22-ingress.json": {
        ("security_group_opened_to_world", "high"),
    },
    "aws.exfiltration.ec2-share-ami.json": {("resource_shared_outside", "high")},
    "aws.exfiltration.ec2-share-ebs-snapshot.json": {("resource_shared_outside", "high")},
    "aws.exfiltration.rds-share-snapshot.json": {("resource_shared_outside", "high")},
    "aws.impact.bedrock-invoke-model.json": {("bedrock_model_access_enabled", "medium")},
    "aws.initial-access.console-login-without-mfa.json": {("console_login_without_mfa", "medium")},
    "aws.lateral-movement.ec2-instance-connect.json": {("remote_execution_new_principal", "high")},
    "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json": {
        ("remote_execution_new_principal", "high"),
    },
    "aws.persistence.iam-backdoor-role.json": {("role_trust_opened", "high")},
    "aws.persistence.iam-backdoor-user.json": {("iam_user_credentials_created", "medium")},
    "aws.persistence.iam-create-admin-user.json": {
        ("iam_admin_policy_granted", "high"), ("iam_user_credentials_created", "low"),
        ("iam_user_credentials_created", "medium"),
    },
    "aws.persistence.iam-create-backdoor-role.json": {
        ("iam_admin_policy_granted", "high"), ("role_trust_opened", "high"),
    },
    "aws.persistence.iam-create-user-login-profile.json": {
        ("iam_user_credentials_created", "medium"),
    },
    "aws.persistence.lambda-backdoor-function.json": {("lambda_function_backdoor", "high")},
    # The only function change of a principal the data has just met.
    "aws.persistence.lambda-layer-extension.json": {("lambda_function_backdoor", "medium")},
    "aws.persistence.lambda-overwrite-code.json": {("lambda_function_backdoor", "medium")},
    "aws.persistence.rolesanywhere-create-trust-anchor.json": {
        ("roles_anywhere_trust_changed", "medium"),
    },
    "aws.persistence.sts-federation-token.json": {("federation_token_from_user", "medium")},
    "aws.privilege-escalation.iam-update-user-login-profile.json": {
        ("iam_user_credentials_created", "medium"),
    },
    # Root signs in without MFA, fails to stop logging (an attempt: low), creates keys for itself
    # and for a user it created, grants that user AdministratorAccess and launches an instance.
    "attacker_cloudtrail.json": {
        ("root_console_login", "critical"), ("root_access_key_created", "critical"),
        ("root_access_key_created", "high"), ("logging_tampering", "low"),
        ("new_sdk_for_principal", "medium"), ("expensive_instances_launched", "high"),
        ("iam_admin_policy_granted", "high"),
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


def test_every_detonation_file_is_expected(shared_real: Path) -> None:
    files = {p.name for p in (shared_real / "stratus-red-team").glob("*.json")}
    assert files == set(EXPECTED) - {"attacker_cloudtrail.json"}
