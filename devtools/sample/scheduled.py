"""Routine events at set times: console sign-ins, AWS service events, CI's one test instance and
CI's nightly rotation of a service user's access key."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from devtools.sample.actors import Roster
from devtools.sample.ec2_shapes import (
    Launch,
    run_request,
    run_response,
    terminate_request,
    terminate_response,
)
from devtools.sample.envelope import api_event, console_login, tls_details
from devtools.sample.identities import BOTO3_CI, CI_IP, TERRAFORM, assumed_role
from devtools.sample.ids import Clock, Ids
from devtools.sample.landscape import HOME_REGION, Account

Placed = tuple[int, str, dict[str, Any]]  # (second-of-day, region, record)


def scheduled_events(ids: Ids, clock: Clock, account: Account, roster: Roster) -> list[Placed]:
    """Sign-ins, backup completions, a key rotation and (in dev) one t3.micro launched by CI."""
    acct = account.account_id
    placed: list[Placed] = [
        (
            login.second,
            HOME_REGION,
            console_login(
                ids,
                when=clock.iso(login.second),
                identity=login.identity,
                account=acct,
                ip=login.ip,
                agent=login.agent,
                mfa_device=login.mfa_device,
            ),
        )
        for login in roster.logins
    ]
    for site in account.sites[:2]:
        second = 5 * 3600 + ids.rng.randint(0, 1800)
        volume = ids.resource("vol")
        placed.append(
            (
                second,
                site.region,
                api_event(
                    ids,
                    when=clock.iso(second),
                    identity={"accountId": acct, "invokedBy": "backup.amazonaws.com"},
                    source="backup.amazonaws.com",
                    name="BackupJobCompleted",
                    region=site.region,
                    account=acct,
                    ip="backup.amazonaws.com",
                    agent="backup.amazonaws.com",
                    version="1.08",
                    event_type="AwsServiceEvent",
                    service_details={
                        "backupJobId": ids.uuid().upper(),
                        "backupVaultName": "Default",
                        "resourceArn": f"arn:aws:ec2:{site.region}:{acct}:volume/{volume}",
                        "resourceType": "EBS",
                        "state": "COMPLETED",
                        "backupSizeInBytes": ids.rng.randint(10**9, 8 * 10**10),
                    },
                ),
            )
        )
    site = account.site(HOME_REGION)
    second = 2 * 3600 + ids.rng.randint(0, 3600)
    key = ids.pick(site.kms_keys)
    placed.append(
        (
            second,
            HOME_REGION,
            api_event(
                ids,
                when=clock.iso(second),
                identity={"accountId": acct, "invokedBy": "AWS Internal"},
                source="kms.amazonaws.com",
                name="RotateKey",
                region=HOME_REGION,
                account=acct,
                ip="AWS Internal",
                agent="AWS Internal",
                version="1.08",
                event_type="AwsServiceEvent",
                resources=[
                    {
                        "accountId": acct,
                        "type": "AWS::KMS::Key",
                        "ARN": f"arn:aws:kms:{HOME_REGION}:{acct}:key/{key}",
                    }
                ],
                service_details={"keyId": key},
            ),
        )
    )
    if account.env == "dev" and len(roster.ci_runs) > 2:
        placed += _ci_test_instance(ids, clock, account, roster)
    return placed


def _ci_test_instance(ids: Ids, clock: Clock, account: Account, roster: Roster) -> list[Placed]:
    ci = next(a for a in roster.actors if a.name == "ci-deployer")
    identity = ci.faces[0][0]
    site = account.site(HOME_REGION)
    eni = site.instances[0]
    launched, ended = roster.ci_runs[1][0] + 90, roster.ci_runs[2][0] + 60
    launch = Launch(
        account=site.account,
        region=site.region,
        az=eni.az,
        image_id=site.image_id,
        instance_type="t3.micro",
        key_name=None,
        group_id=site.security_groups[1],
        group_name="ci-smoke-test",
        subnet_id=eni.subnet_id,
        vpc_id=site.vpcs[0].vpc_id,
        reservation_id=ids.resource("r"),
        launch_ms=(clock.epoch0 + launched) * 1000,
        instance_ids=(ids.resource("i"),),
        eni_ids=(ids.resource("eni"),),
        private_ips=(eni.ip.rsplit(".", 1)[0] + ".251",),
    )

    def ec2(second: int, name: str, request: Any, response: Any) -> Placed:
        return (
            second,
            site.region,
            api_event(
                ids,
                when=clock.iso(second),
                identity=identity,
                source="ec2.amazonaws.com",
                name=name,
                region=site.region,
                account=site.account,
                ip=CI_IP,
                agent=TERRAFORM,
                request=request,
                response=response,
                tls=tls_details(f"ec2.{site.region}.amazonaws.com"),
            ),
        )

    return [
        ec2(launched, "RunInstances", run_request(launch, ids.uuid()), run_response(ids, launch)),
        ec2(
            ended,
            "TerminateInstances",
            terminate_request(launch.instance_ids),
            terminate_response(ids, launch.instance_ids),
        ),
    ]


# CI's nightly job in dev rotates the access key of a service user that a third-party tool can
# only be given as a key: from the runner's fixed address (CI_IP) it assumes ROTATION_ROLE,
# creates the day's key and deletes yesterday's. iam_user_credentials_created raises it (a key
# made for another user, medium) every night: the routine alert an exception is for.
ROTATION_ROLE, ROTATED_USER = "ci-key-rotation", "artifact-publisher"
ROTATION_SECOND = 2 * 3600 + 14 * 60  # 02:14 UTC


def _rotated_key(seed: int, day: date, account: str) -> str:
    """The access key the rotation creates on ``day`` (and deletes the next day)."""
    return Ids(random.Random(f"{seed}:{day}:rotated-key:{account}")).key("AKIA")


def key_rotation(seed: int, clock: Clock, account: Account) -> list[Placed]:
    """The rotation's ListAccessKeys, CreateAccessKey and DeleteAccessKey (dev only), drawn from
    their own seeded stream so that the rest of the day is unchanged."""
    if account.env != "dev":
        return []
    acct, user = account.account_id, ROTATED_USER
    ids = Ids(random.Random(f"{seed}:{clock.day}:key-rotation:{acct}"))
    role_id = Ids(random.Random(f"{seed}:key-rotation:{acct}")).key("AROA", 17)
    start = ROTATION_SECOND + ids.between(0, 40)
    session = f"gitlab-runner-{ids.between(10**8, 10**9 - 1)}"
    identity = assumed_role(
        acct, ROTATION_ROLE, role_id, session, ids.key("ASIA"), clock.iso(start - 2)
    )
    new = _rotated_key(seed, clock.day, acct)
    old = _rotated_key(seed, clock.day - timedelta(days=1), acct)
    created = clock.at(start + 1)  # createDate as IAM writes it: "Nov 20, 2026, 2:14:31 AM"
    calls = (
        ("ListAccessKeys", True, {"userName": user}, None),
        ("CreateAccessKey", False, {"userName": user}, {"accessKey": {
            "userName": user, "accessKeyId": new, "status": "Active",
            "createDate": f"{created:%b} {created.day}, {created.year}, "
                          f"{(created.hour - 1) % 12 + 1}:{created:%M:%S %p}"}}),
        ("DeleteAccessKey", False, {"userName": user, "accessKeyId": old}, None),
    )
    return [
        (
            start + i,
            HOME_REGION,
            api_event(
                ids,
                when=clock.iso(start + i),
                identity=identity,
                source="iam.amazonaws.com",
                name=name,
                region=HOME_REGION,
                account=acct,
                ip=CI_IP,
                agent=BOTO3_CI,
                request=request,
                response=response,
                read_only=read_only,
                tls=tls_details("iam.amazonaws.com"),
            ),
        )
        for i, (name, read_only, request, response) in enumerate(calls)
    ]
