"""The CloudTrail record envelope, with fields in the order AWS writes them."""

from __future__ import annotations

from typing import Any

from devtools.sample.ids import Ids

_TLS: dict[tuple[str, str], dict[str, str]] = {}
TLS13 = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


def tls_details(host: str, suite: tuple[str, str] = TLS13) -> dict[str, str]:
    """A shared (never mutated) ``tlsDetails`` block for ``host``."""
    key = (host, suite[0])
    if key not in _TLS:
        _TLS[key] = {
            "tlsVersion": suite[0],
            "cipherSuite": suite[1],
            "clientProvidedHostHeader": host,
        }
    return _TLS[key]


def api_event(
    ids: Ids,
    *,
    when: str,
    identity: dict[str, Any],
    source: str,
    name: str,
    region: str,
    account: str,
    ip: str,
    agent: str,
    request: Any = None,
    response: Any = None,
    read_only: bool = False,
    version: str = "1.09",
    error: tuple[str, str] | None = None,
    resources: Any = None,
    additional: Any = None,
    event_type: str = "AwsApiCall",
    shared_event: bool = False,
    tls: dict[str, str] | None = None,
    console: bool = False,
    service_details: Any = None,
) -> dict[str, Any]:
    """One CloudTrail management-event record."""
    event: dict[str, Any] = {
        "eventVersion": version,
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    if error is not None:
        event["errorCode"], event["errorMessage"] = error
    event["requestParameters"] = request
    event["responseElements"] = response
    if additional is not None:
        event["additionalEventData"] = additional
    if event_type != "AwsConsoleSignIn":
        event["requestID"] = ids.uuid()
    event["eventID"] = ids.uuid()
    event["readOnly"] = read_only
    if resources is not None:
        event["resources"] = resources
    event["eventType"] = event_type
    event["managementEvent"] = True
    event["recipientAccountId"] = account
    if shared_event:
        event["sharedEventID"] = ids.uuid()
    if service_details is not None:
        event["serviceEventDetails"] = service_details
    event["eventCategory"] = "Management"
    if tls is not None:
        event["tlsDetails"] = tls
    if console:
        event["sessionCredentialFromConsole"] = "true"
    return event


def console_login(
    ids: Ids,
    *,
    when: str,
    identity: dict[str, Any],
    account: str,
    ip: str,
    agent: str,
    mfa_device: str | None,
    success: bool = True,
) -> dict[str, Any]:
    """A ``signin.amazonaws.com`` ConsoleLogin record (us-east-1)."""
    extra: dict[str, str] = {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1",
        "MobileVersion": "No",
    }
    if mfa_device:
        extra["MFAIdentifier"] = mfa_device
    extra["MFAUsed"] = "Yes" if mfa_device else "No"
    return api_event(
        ids,
        when=when,
        identity=identity,
        source="signin.amazonaws.com",
        name="ConsoleLogin",
        region="us-east-1",
        account=account,
        ip=ip,
        agent=agent,
        response={"ConsoleLogin": "Success" if success else "Failure"},
        additional=extra,
        version="1.08",
        event_type="AwsConsoleSignIn",
        tls=tls_details("us-east-1.signin.aws.amazon.com"),
    )
