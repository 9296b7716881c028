"""Coverage of real attacks, and silence on benign sets, with every CloudTrail detection.

``tests/coverage_report.py`` replays the 35 Stratus Red Team detonation files and the Invictus
capture (26 techniques detonated in one account) through the real ingest, with the attack tool's
marker removed from every user agent, together with Panther's look-alike cases and the sample
day. A technique is covered when a medium-or-higher alert's evidence holds one of its own calls.
The covered sets are asserted exactly, so a regression (or an unexplained gain) fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.enrich import Enrichment
from tests.coverage_report import Replay, replay, sample_noise

STRATUS = {  # every detonation file
    "aws.credential-access.ec2-get-password-data",
    "aws.credential-access.ec2-steal-instance-credentials",
    "aws.credential-access.secretsmanager-batch-retrieve-secrets",
    "aws.credential-access.secretsmanager-retrieve-secrets",
    "aws.credential-access.ssm-retrieve-securestring-parameters",
    "aws.defense-evasion.cloudtrail-delete",
    "aws.defense-evasion.cloudtrail-event-selectors",
    "aws.defense-evasion.cloudtrail-stop",
    "aws.defense-evasion.dns-delete-logs",
    "aws.defense-evasion.organizations-leave",
    "aws.defense-evasion.vpc-remove-flow-logs",
    "aws.discovery.ec2-download-user-data",
    "aws.execution.ec2-launch-unusual-instances",
    "aws.execution.ec2-user-data",
    "aws.execution.ssm-send-command",
    "aws.execution.ssm-start-session",
    "aws.exfiltration.ec2-security-group-open-port-22-ingress",
    "aws.exfiltration.ec2-share-ami",
    "aws.exfiltration.ec2-share-ebs-snapshot",
    "aws.exfiltration.rds-share-snapshot",
    "aws.impact.bedrock-invoke-model",
    "aws.initial-access.console-login-without-mfa",
    "aws.lateral-movement.ec2-instance-connect",
    "aws.lateral-movement.ec2-serial-console-send-ssh-public-key",
    "aws.persistence.iam-backdoor-role",
    "aws.persistence.iam-backdoor-user",
    "aws.persistence.iam-create-admin-user",
    "aws.persistence.iam-create-backdoor-role",
    "aws.persistence.iam-create-user-login-profile",
    "aws.persistence.lambda-backdoor-function",
    "aws.persistence.lambda-layer-extension",
    "aws.persistence.lambda-overwrite-code",
    "aws.persistence.rolesanywhere-create-trust-anchor",
    "aws.persistence.sts-federation-token",
    "aws.privilege-escalation.iam-update-user-login-profile",
}
# Raised at low only: each call failed on a trail that did not exist (TrailNotFoundException), which
# looks the same as a mistyped name (Panther's look-alikes); a failed tampering call changed
# nothing, so it is an "attempted" low alert, not a medium one.
MISSING_TRAIL_ATTEMPTS = {
    "aws.defense-evasion.cloudtrail-delete", "aws.defense-evasion.cloudtrail-stop",
}
INVICTUS = {  # every technique detonated in the capture but MISSING_TRAIL_ATTEMPTS
    "aws.credential-access.ec2-get-password-data",
    "aws.credential-access.ec2-steal-instance-credentials",
    "aws.credential-access.secretsmanager-retrieve-secrets",
    "aws.credential-access.ssm-retrieve-securestring-parameters",
    "aws.defense-evasion.cloudtrail-event-selectors",
    "aws.defense-evasion.cloudtrail-lifecycle-rule",
    "aws.defense-evasion.organizations-leave",
    "aws.defense-evasion.vpc-remove-flow-logs",
    "aws.discovery.ec2-download-user-data",
    "aws.discovery.ec2-enumerate-from-instance",
    "aws.execution.ec2-launch-unusual-instances",
    "aws.exfiltration.ec2-security-group-open-port-22-ingress",
    "aws.exfiltration.ec2-share-ami",
    "aws.exfiltration.ec2-share-ebs-snapshot",
    "aws.exfiltration.rds-share-snapshot",
    "aws.exfiltration.s3-backdoor-bucket-policy",
    "aws.initial-access.console-login-without-mfa",
    "aws.persistence.iam-backdoor-role",
    "aws.persistence.iam-backdoor-user",
    "aws.persistence.iam-create-admin-user",
    "aws.persistence.iam-create-user-login-profile",
    "aws.persistence.lambda-backdoor-function",
    "aws.persistence.lambda-overwrite-code",
    "aws.persistence.rolesanywhere-create-trust-anchor",
}
UNUSUAL_INSTANCES = "aws.execution.ec2-launch-unusual-instances"


@pytest.fixture(scope="module")
def replayed(
    spark: SparkSession, shared_real: Path, enrichment: Enrichment,
    tmp_path_factory: pytest.TempPathFactory,
) -> Replay:
    return replay(spark, shared_real, tmp_path_factory.mktemp("replay"), enrichment)


def test_labels_name_every_technique(replayed: Replay) -> None:
    assert set(replayed.stratus) == STRATUS
    assert set(replayed.invictus) == INVICTUS | MISSING_TRAIL_ATTEMPTS
    assert all(replayed.stratus.values()) and all(replayed.invictus.values())


def test_stratus_detonations_raise_medium_or_higher_alerts_on_their_own_calls(
    replayed: Replay
) -> None:
    covered = set(replayed.covered(replayed.stratus))
    assert covered == STRATUS, (
        f"missed: {sorted(STRATUS - covered)}, gained: {sorted(covered - STRATUS)}"
    )
    assert len(covered) >= 30


def test_invictus_techniques_raise_medium_or_higher_alerts_on_their_own_calls(
    replayed: Replay
) -> None:
    covered = set(replayed.covered(replayed.invictus))
    assert covered == INVICTUS, (
        f"missed: {sorted(INVICTUS - covered)}, gained: {sorted(covered - INVICTUS)}"
    )
    assert len(covered) >= 22


def test_invictus_background_raises_nothing_at_medium_or_above(replayed: Replay) -> None:
    assert replayed.benign_hits() == []


def test_lookalike_cases_raise_nothing_at_medium_or_above(replayed: Replay) -> None:
    """Panther's negatives (less those that are the same call as another rule's positive): the
    refused ones among them still raise, as low "attempted" alerts."""
    assert len(replayed.lookalikes) > 150
    assert replayed.quiet_hits(ids=replayed.lookalikes) == []
    refused = {"resource_shared_outside", "bucket_access_opened", "remote_execution_new_principal",
               "logging_tampering"}
    attempts = [a for a in replayed.alerts
                if a["detection"] in refused and a["evidence"] & replayed.lookalikes]
    assert {a["detection"] for a in attempts} == refused
    assert all("attempted" in a["title"] and a["severity"] == "low" for a in attempts)


def test_failed_tampering_on_missing_trails_is_a_low_attempt(replayed: Replay) -> None:
    for technique in MISSING_TRAIL_ATTEMPTS:
        alerts = [a for a in replayed.alerts if a["evidence"] & replayed.invictus[technique]
                  and a["detection"] == "logging_tampering"]
        assert alerts and all("attempted" in a["title"] and a["severity"] == "low" for a in alerts)


def test_sample_day_raises_nothing_but_its_attack_at_medium_or_above(replayed: Replay) -> None:
    assert replayed.sample_files
    assert sample_noise(replayed) == []


def test_refused_launches_are_attempts_not_launches(replayed: Replay) -> None:
    """All RunInstances calls of the unusual-instances technique were refused (VcpuLimitExceeded,
    UnauthorizedOperation): their alerts say "attempted" and stay below high."""
    ids = replayed.stratus[UNUSUAL_INSTANCES] | replayed.invictus[UNUSUAL_INSTANCES]
    launches = [a for a in replayed.alerts if a["evidence"] & ids
                and a["detection"] in ("run_instances_burst", "expensive_instances_launched")]
    assert len(launches) == 6
    assert all("attempted" in a["title"] and a["severity"] == "medium" for a in launches)


def test_assume_role_retries_after_role_creation_are_not_enumeration(replayed: Replay) -> None:
    """The operator's refused AssumeRole calls, each within seconds of creating the role, do not
    make a high (denied-reads) enumeration burst of the operator's IAM user."""
    bursts = [
        a for a in replayed.alerts
        if a["detection"] == "enumeration_burst" and ":user/" in a["title"]
    ]
    assert bursts and all(a["severity"] == "medium" for a in bursts)
