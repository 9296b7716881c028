"""CloudTrail ``userIdentity`` blocks and the user agents of the landing zone's callers."""

from __future__ import annotations

from typing import Any

# Source addresses of people and CI (documentation ranges: never a real host).
OFFICE_IP = "198.51.100.23"
ALICE_HOME_IP = "198.51.100.141"
BOB_HOME_IP = "198.51.100.77"
CAROL_IP = "192.0.2.148"
CI_IP = "203.0.113.200"

CLI_MAC = (
    "aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.7 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off "
    "md/command#{cmd}"
)
CLI_LINUX = (
    "aws-cli/2.15.58 Python/3.11.8 Linux/6.8.0-1018-aws exe/x86_64.ubuntu.24 prompt/off "
    "command/{cmd}"
)
CLI_HOST = (
    "aws-cli/2.17.18 Python/3.11.9 Linux/6.1.112-124.190.amzn2023.x86_64 "
    "source/x86_64.amzn.2023 prompt/off command/{cmd}"
)
# terraform-provider-aws appends its Go SDK's agent; the sample leaves it out on purpose so that
# the attacker's aws-sdk-go agent is the only one of its kind.
TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) "
    "terraform-provider-aws/5.76.0 (+https://registry.terraform.io/providers/hashicorp/aws)"
)
BOTO3_CI = (
    "Boto3/1.35.57 md/Botocore#1.35.57 ua/2.0 os/linux#6.8.0-1017-aws md/arch#x86_64 "
    "lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.57"
)
BOTO3_LAMBDA = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.227-239.884.amzn2.x86_64 "
    "md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython "
    "exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145"
)
JAVA = (
    "aws-sdk-java/2.28.16 Linux/6.1.112-124.190.amzn2023.x86_64 "
    "OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. io/sync "
    "http/Apache cfg/retry-mode/legacy"
)
CONSOLE = ("console.amazonaws.com", "console.ec2.amazonaws.com")
BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"


def iam_user(account: str, name: str, principal_id: str, key: str) -> dict[str, Any]:
    """An IAM user calling with a long-term access key."""
    return {
        "type": "IAMUser",
        "principalId": principal_id,
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": key,
        "userName": name,
    }


def console_user(
    account: str, name: str, principal_id: str, key: str, created: str
) -> dict[str, Any]:
    """An IAM user in a console session signed in with MFA."""
    identity = iam_user(account, name, principal_id, key)
    identity["sessionContext"] = {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"creationDate": created, "mfaAuthenticated": "true"},
    }
    return identity


def assumed_role(
    account: str,
    role: str,
    role_id: str,
    session: str,
    key: str,
    created: str,
    *,
    path: str = "/",
    invoked_by: str | None = None,
    ec2: bool = False,
) -> dict[str, Any]:
    """A role session; ``ec2`` marks instance-profile credentials."""
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role_id,
            "arn": f"arn:aws:iam::{account}:role{path}{role}",
            "accountId": account,
            "userName": role,
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
    }
    if ec2:
        context["ec2RoleDelivery"] = "2.0"
    identity: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": context,
    }
    if invoked_by:
        identity["invokedBy"] = invoked_by
    return identity


def aws_service(service: str) -> dict[str, Any]:
    """An AWS service acting on the account's behalf."""
    return {"type": "AWSService", "invokedBy": service}


def root(account: str, key: str) -> dict[str, Any]:
    """The account root user calling with an access key."""
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
        "accessKeyId": key,
    }
