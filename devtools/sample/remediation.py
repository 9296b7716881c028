"""The responder's clean-up, 14:39-14:45 UTC: root key disabled and deleted, miners removed."""

from __future__ import annotations

from typing import Any

from devtools.sample.ec2_shapes import terminate_request, terminate_response
from devtools.sample.envelope import api_event, console_login, tls_details
from devtools.sample.ground_truth import ATTACK
from devtools.sample.identities import BROWSER, OFFICE_IP, console_user
from devtools.sample.ids import Clock, Ids, seconds_of_day


def remediation_events(ids: Ids, clock: Clock) -> list[tuple[int, dict[str, Any]]]:
    """Root signs in with MFA to kill its key; IAM user ``responder`` removes the miners."""
    a, t0 = ATTACK, seconds_of_day(ATTACK.remediation_start)
    acct, region = a.account_id, a.region
    root_login = {
        "type": "Root",
        "principalId": acct,
        "arn": f"arn:aws:iam::{acct}:root",
        "accountId": acct,
    }
    root_console = {
        **root_login,
        "accessKeyId": ids.key("ASIA"),
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": clock.iso(t0 + 2), "mfaAuthenticated": "true"},
        },
    }
    responder_id = ids.key("AIDA", 17)
    responder = console_user(acct, "responder", responder_id, ids.key("ASIA"), clock.iso(t0 + 90))

    def call(
        second: int,
        identity: dict[str, Any],
        service: str,
        name: str,
        request: Any,
        response: Any = None,
        error: tuple[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        host = "iam.amazonaws.com" if service == "iam" else f"{service}.{region}.amazonaws.com"
        return second, api_event(
            ids,
            when=clock.iso(second),
            identity=identity,
            source=f"{service}.amazonaws.com",
            name=name,
            region=region,
            account=acct,
            ip=OFFICE_IP,
            agent="console.amazonaws.com",
            request=request,
            response=response,
            error=error,
            tls=tls_details(host),
            console=True,
        )

    rule = {
        "ipProtocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "groups": {},
        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    sg = {"groupId": a.security_group_id}
    return [
        (
            t0 + 2,
            console_login(
                ids,
                when=clock.iso(t0 + 2),
                identity=root_login,
                account=acct,
                ip=OFFICE_IP,
                agent=BROWSER,
                mfa_device=f"arn:aws:iam::{acct}:mfa/root-account-mfa-device",
            ),
        ),
        call(
            t0 + 40,
            root_console,
            "iam",
            "UpdateAccessKey",
            {"accessKeyId": a.access_key_id, "status": "Inactive"},
        ),
        call(t0 + 75, root_console, "iam", "DeleteAccessKey", {"accessKeyId": a.access_key_id}),
        (
            t0 + 90,
            console_login(
                ids,
                when=clock.iso(t0 + 90),
                account=acct,
                ip=OFFICE_IP,
                agent=BROWSER,
                mfa_device=f"arn:aws:iam::{acct}:mfa/responder",
                identity={
                    k: responder[k] for k in ("type", "principalId", "arn", "accountId", "userName")
                },
            ),
        ),
        call(
            t0 + 130,
            responder,
            "ec2",
            "TerminateInstances",
            terminate_request(a.instance_ids),
            terminate_response(ids, a.instance_ids),
        ),
        call(
            t0 + 165,
            responder,
            "ec2",
            "RevokeSecurityGroupIngress",
            {**sg, "ipPermissions": {"items": [rule]}},
            {"requestId": ids.uuid(), "_return": True},
        ),
        call(
            t0 + 185,
            responder,
            "ec2",
            "DeleteSecurityGroup",
            sg,
            error=(
                "Client.DependencyViolation",
                f"resource {a.security_group_id} has a dependent object",
            ),
        ),
        call(
            t0 + 320,
            responder,
            "ec2",
            "DeleteSecurityGroup",
            sg,
            {"requestId": ids.uuid(), "_return": True, "groupId": a.security_group_id},
        ),
        call(
            t0 + 350,
            responder,
            "ec2",
            "DeleteKeyPair",
            {"keyName": a.key_name},
            {"requestId": ids.uuid(), "_return": True, "keyPairId": a.key_pair_id},
        ),
    ]
