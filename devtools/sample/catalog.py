"""Routine AWS API calls: event source and name plus builders of their request and response."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from devtools.sample.ids import Ids
from devtools.sample.landscape import Site

Builder = Callable[[Ids, Site, str], Any]  # (ids, site, eventTime) -> JSON value
Resources = Callable[[Ids, Site, Any], Any]  # (ids, site, requestParameters) -> resources
IAM_PREFIX = {"monitoring": "cloudwatch"}
ERROR_CODE = {
    "ec2": "Client.UnauthorizedOperation",
    "iam": "AccessDenied",
    "sts": "AccessDenied",
    "s3": "AccessDenied",
}


@dataclass(frozen=True)
class Call:
    """One API operation as CloudTrail records it."""

    source: str
    name: str
    read_only: bool
    request: Builder | None = None
    response: Builder | None = None
    resources: Resources | None = None
    additional: Builder | None = None
    home_only: bool = False  # a global service: recorded in us-east-1
    shared_event: bool = False
    agent: str | None = None  # overrides the caller's user agent
    service: str = field(init=False)
    action: str = field(init=False)
    cli: str = field(init=False)

    def __post_init__(self) -> None:
        prefix = self.source.split(".")[0]
        service = IAM_PREFIX.get(prefix, prefix)
        op = re.sub(r"\d{8}(v\d+)?$", "", self.name)
        object.__setattr__(self, "service", service)
        object.__setattr__(self, "action", f"{service}:{op}")
        object.__setattr__(self, "cli", f"{service}.{re.sub(r'(?<!^)(?=[A-Z])', '-', op).lower()}")

    def host(self, region: str) -> str:
        """The endpoint a client names in its TLS host header."""
        if self.service in ("iam", "s3") and self.home_only:
            return f"{self.service}.amazonaws.com"
        return f"{self.source.split('.')[0]}.{region}.amazonaws.com"

    def error_code(self) -> str:
        """The code this service returns for a denied call."""
        return ERROR_CODE.get(self.service, "AccessDeniedException")


def const(value: Any) -> Builder:
    """A builder returning the same (shared, never mutated) value."""
    return lambda ids, site, when: value


def _ec2_read(name: str, request: Any) -> Call:
    return Call("ec2.amazonaws.com", name, True, const(request))


def _describe_instances(ids: Ids, site: Site, when: str) -> Any:
    if ids.rng.random() < 0.6:
        return {"instancesSet": {}, "filterSet": {}}
    return {
        "instancesSet": {"items": [{"instanceId": ids.pick(site.instance_ids)}]},
        "filterSet": {},
    }


def _describe_tags(ids: Ids, site: Site, when: str) -> Any:
    iid = ids.pick(site.instance_ids)
    return {
        "filterSet": {"items": [{"name": "resource-id", "valueSet": {"items": [{"value": iid}]}}]}
    }


def _create_tags(ids: Ids, site: Site, when: str) -> Any:
    return {
        "resourcesSet": {"items": [{"resourceId": ids.pick(site.instance_ids)}]},
        "tagSet": {
            "items": [
                {
                    "key": ids.pick(("Owner", "CostCenter", "Patch")),
                    "value": ids.pick(("platform", "orders", "weekly")),
                }
            ]
        },
    }


def _ec2_return(ids: Ids, site: Site, when: str) -> Any:
    return {"requestId": ids.uuid(), "_return": True}


def _function(ids: Ids, site: Site, when: str) -> Any:
    return {"functionName": ids.pick(site.functions)}


def _update_code_request(ids: Ids, site: Site, when: str) -> Any:
    fn = ids.pick(site.functions)
    return {
        "functionName": fn,
        "s3Bucket": site.buckets[0],
        "s3Key": f"lambda/{fn}/{ids.hex(12)}.zip",
        "publish": True,
        "dryRun": False,
    }


def _update_code_response(ids: Ids, site: Site, when: str) -> Any:
    fn = ids.pick(site.functions)
    return {
        "functionName": fn,
        "functionArn": f"arn:aws:lambda:{site.region}:{site.account}:function:{fn}",
        "runtime": "python3.12",
        "role": f"arn:aws:iam::{site.account}:role/{fn}-role",
        "handler": "app.handler",
        "codeSize": ids.rng.randint(40_000, 9_000_000),
        "description": "",
        "timeout": 30,
        "memorySize": 512,
        "lastModified": when.replace("Z", ".000+0000"),
        "codeSha256": base64.b64encode(ids.rng.randbytes(32)).decode(),
        "version": str(ids.rng.randint(20, 400)),
        "tracingConfig": {"mode": "PassThrough"},
        "revisionId": ids.uuid(),
        "state": "Active",
        "lastUpdateStatus": "InProgress",
        "lastUpdateStatusReason": "The function is being created.",
        "lastUpdateStatusReasonCode": "Creating",
        "packageType": "Zip",
        "architectures": ["x86_64"],
    }


def _put_metric_alarm(ids: Ids, site: Site, when: str) -> Any:
    fn = ids.pick(site.functions)
    return {
        "alarmName": ids.pick(site.alarms),
        "metricName": "Errors",
        "namespace": "AWS/Lambda",
        "statistic": "Sum",
        "dimensions": [{"name": "FunctionName", "value": fn}],
        "period": 60,
        "evaluationPeriods": 3,
        "threshold": 5.0,
        "comparisonOperator": "GreaterThanOrEqualToThreshold",
        "alarmActions": [f"arn:aws:sns:{site.region}:{site.account}:{site.env}-oncall"],
    }


def _create_log_stream(ids: Ids, site: Site, when: str) -> Any:
    return {
        "logGroupName": f"/aws/lambda/{ids.pick(site.functions)}",
        "logStreamName": f"{when[:10].replace('-', '/')}/[$LATEST]{ids.hex(32)}",
    }


def _kms_resources(ids: Ids, site: Site, request: Any) -> Any:
    key = ids.pick(site.kms_keys)
    return [
        {
            "accountId": site.account,
            "type": "AWS::KMS::Key",
            "ARN": f"arn:aws:kms:{site.region}:{site.account}:key/{key}",
        }
    ]


def _bucket_op(op: str, arg: str) -> Call:
    def request(ids: Ids, site: Site, when: str) -> Any:
        bucket = ids.pick(site.buckets)
        return {"bucketName": bucket, "Host": f"{bucket}.s3.{site.region}.amazonaws.com", arg: ""}

    return Call(
        "s3.amazonaws.com",
        op,
        True,
        request,
        resources=_bucket_resources,
        additional=_s3_additional,
    )


def _bucket_resources(ids: Ids, site: Site, request: Any) -> Any:
    return [
        {
            "accountId": site.account,
            "type": "AWS::S3::Bucket",
            "ARN": f"arn:aws:s3:::{request['bucketName']}",
        }
    ]


def _s3_additional(ids: Ids, site: Site, when: str) -> Any:
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": base64.b64encode(ids.rng.randbytes(24)).decode(),
        "bytesTransferredOut": ids.between(110, 2400),
    }


def _role(ids: Ids, site: Site, when: str) -> Any:
    roles = [f"{fn}-role" for fn in site.functions] + [f"{site.env}-app-instance-role"]
    return {"roleName": ids.pick(roles)}


def _user(ids: Ids, site: Site, when: str) -> Any:
    return {"userName": ids.pick(("alice", "bob", "ci-deployer"))}


def _iam(name: str, request: Builder | None, read_only: bool = True) -> Call:
    return Call("iam.amazonaws.com", name, read_only, request, home_only=True)


def _pick_arg(key: str, attr: str, **extra: Any) -> Builder:
    def build(ids: Ids, site: Site, when: str) -> Any:
        return {key: ids.pick(getattr(site, attr)), **extra}

    return build


def _routine_calls() -> list[Call]:
    ec2_reads = [
        Call("ec2.amazonaws.com", "DescribeInstances", True, _describe_instances),
        Call("ec2.amazonaws.com", "DescribeTags", True, _describe_tags),
        _ec2_read(
            "DescribeSecurityGroups",
            {"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}},
        ),
        _ec2_read("DescribeVpcs", {"vpcSet": {}, "filterSet": {}}),
        _ec2_read("DescribeSubnets", {"subnetSet": {}, "filterSet": {}}),
        _ec2_read("DescribeVolumes", {"volumeSet": {}, "filterSet": {}}),
        _ec2_read(
            "DescribeImages",
            {
                "executableBySet": {},
                "imagesSet": {},
                "ownersSet": {"items": [{"owner": "self"}]},
                "filterSet": {},
            },
        ),
        _ec2_read("DescribeNetworkInterfaces", {"networkInterfaceIdSet": {}, "filterSet": {}}),
        _ec2_read(
            "DescribeInstanceStatus",
            {"instancesSet": {}, "filterSet": {}, "includeAllInstances": False},
        ),
        _ec2_read(
            "DescribeAvailabilityZones", {"availabilityZoneSet": {}, "availabilityZoneIdSet": {}}
        ),
        _ec2_read("DescribeRegions", {"regionSet": {}}),
        _ec2_read("DescribeKeyPairs", {"keySet": {}, "keyPairIdSet": {}}),
        _ec2_read("DescribeAddresses", {"publicIpsSet": {}, "allocationIdsSet": {}}),
        _ec2_read("DescribeRouteTables", {"routeTableIdSet": {}, "filterSet": {}}),
    ]
    return [
        *ec2_reads,
        Call("ec2.amazonaws.com", "CreateTags", False, _create_tags, _ec2_return),
        Call("lambda.amazonaws.com", "ListFunctions20150331", True, None),
        Call("lambda.amazonaws.com", "GetFunction20150331v2", True, _function),
        Call("lambda.amazonaws.com", "GetFunctionConfiguration20150331v2", True, _function),
        Call(
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            False,
            _update_code_request,
            _update_code_response,
        ),
        Call("monitoring.amazonaws.com", "DescribeAlarms", True, const({"maxRecords": 100})),
        Call("monitoring.amazonaws.com", "PutMetricAlarm", False, _put_metric_alarm),
        Call("logs.amazonaws.com", "CreateLogStream", False, _create_log_stream),
        Call(
            "logs.amazonaws.com", "DescribeLogGroups", True, const({"logGroupNamePrefix": "/aws/"})
        ),
        Call(
            "ssm.amazonaws.com",
            "GetParameter",
            True,
            _pick_arg("name", "params", withDecryption=True),
        ),
        Call(
            "ssm.amazonaws.com",
            "GetParametersByPath",
            True,
            lambda ids, site, when: {
                "path": f"/{site.env}/",
                "recursive": True,
                "withDecryption": True,
            },
        ),
        Call("ssm.amazonaws.com", "DescribeInstanceInformation", True, const({"maxResults": 50})),
        Call(
            "kms.amazonaws.com",
            "Decrypt",
            True,
            const({"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            resources=_kms_resources,
        ),
        Call(
            "kms.amazonaws.com",
            "GenerateDataKey",
            True,
            lambda ids, site, when: {"keyId": f"alias/{site.env}-app", "keySpec": "AES_256"},
            resources=_kms_resources,
        ),
        Call(
            "kms.amazonaws.com",
            "DescribeKey",
            True,
            _pick_arg("keyId", "kms_keys"),
            resources=_kms_resources,
        ),
        Call("kms.amazonaws.com", "ListAliases", True, None),
        Call(
            "secretsmanager.amazonaws.com", "GetSecretValue", True, _pick_arg("secretId", "secrets")
        ),
        Call("secretsmanager.amazonaws.com", "ListSecrets", True, const({"maxResults": 100})),
        Call("dynamodb.amazonaws.com", "DescribeTable", True, _pick_arg("tableName", "tables")),
        Call("dynamodb.amazonaws.com", "ListTables", True, None),
        Call("ecr.amazonaws.com", "GetAuthorizationToken", True, None),
        Call("sts.amazonaws.com", "GetCallerIdentity", True, None),
        Call(
            "cloudtrail.amazonaws.com",
            "DescribeTrails",
            True,
            const({"trailNameList": [], "includeShadowTrails": True}),
        ),
        Call(
            "cloudtrail.amazonaws.com",
            "LookupEvents",
            True,
            const(
                {
                    "maxResults": 50,
                    "lookupAttributes": [{"attributeKey": "ReadOnly", "attributeValue": "false"}],
                }
            ),
        ),
        Call(
            "s3.amazonaws.com",
            "ListBuckets",
            True,
            const({"Host": "s3.amazonaws.com"}),
            home_only=True,
            additional=_s3_additional,
        ),
        _bucket_op("GetBucketPolicy", "policy"),
        _bucket_op("GetBucketLocation", "location"),
        _bucket_op("GetBucketVersioning", "versioning"),
        _bucket_op("GetBucketEncryption", "encryption"),
        _iam("ListRoles", const({"maxItems": 1000})),
        _iam("GetRole", _role),
        _iam("ListAttachedRolePolicies", _role),
        _iam("ListUsers", None),
        _iam("GetUser", _user),
        _iam("ListAccessKeys", _user),
        _iam("ListPolicies", const({"scope": "Local", "onlyAttached": False})),
        _iam("GetAccountSummary", None),
    ]


@cache
def catalog() -> dict[str, Call]:
    """Routine calls by IAM action, e.g. ``"ec2:DescribeInstances"``."""
    return {c.action: c for c in _routine_calls()}
