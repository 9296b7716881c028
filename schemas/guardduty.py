"""GuardDuty contracts: a finding as exported to S3 (one JSON object per line) and its table."""

from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _strings(*names: str) -> list[StructField]:
    return [StructField(n, StringType()) for n in names]


_REMOTE_IP = StructType(
    _strings("ipAddressV4", "ipAddressV6")
    + [StructField("organization", StructType(_strings("asn", "asnOrg", "isp", "org")))]
)
_ACTION = StructType(
    _strings("actionType")
    + [
        StructField(
            "networkConnectionAction",
            StructType(
                _strings("connectionDirection", "protocol")
                + [
                    StructField("remoteIpDetails", _REMOTE_IP),
                    StructField("remotePortDetails", StructType(_strings("port", "portName"))),
                    StructField("localPortDetails", StructType(_strings("port", "portName"))),
                ]
            ),
        ),
        StructField(
            "awsApiCallAction",
            StructType(
                _strings("api", "serviceName") + [StructField("remoteIpDetails", _REMOTE_IP)]
            ),
        ),
        StructField(
            "dnsRequestAction", StructType(_strings("domain", "protocol", "blocked"))
        ),
    ]
)

# Scalars as strings, typed with try_cast after parsing (hostile input).
RAW_FINDING = StructType(
    _strings(
        "schemaVersion", "accountId", "region", "partition", "id", "arn", "type",
        "severity", "createdAt", "updatedAt", "title", "description",
    )
    + [
        StructField(
            "resource",
            StructType(
                _strings("resourceType")
                + [
                    StructField(
                        "instanceDetails", StructType(_strings("instanceId", "instanceType"))
                    ),
                    StructField(
                        "accessKeyDetails",
                        StructType(_strings("accessKeyId", "principalId", "userName", "userType")),
                    ),
                ]
            ),
        ),
        StructField(
            "service",
            StructType(
                _strings(
                    "serviceName", "detectorId", "eventFirstSeen", "eventLastSeen", "count",
                    "archived",
                )
                + [StructField("action", _ACTION)]
            ),
        ),
    ]
)

GUARDDUTY_FINDINGS = StructType(
    [
        StructField("finding_id", StringType(), False),
        StructField("finding_type", StringType()),
        StructField("severity", DoubleType()),
        StructField("severity_label", StringType()),
        StructField("title", StringType()),
        StructField("account_id", StringType()),
        StructField("region", StringType()),
        StructField("detector_id", StringType()),
        StructField("resource_type", StringType()),
        StructField("instance_id", StringType()),
        StructField("access_key_id", StringType()),
        StructField("principal_id", StringType()),
        StructField("user_name", StringType()),
        StructField("action_type", StringType()),
        StructField("connection_direction", StringType()),
        StructField("remote_ip", StringType()),
        StructField("remote_port", IntegerType()),
        StructField("remote_org", StringType()),
        StructField("api_call", StringType()),
        StructField("dns_domain", StringType()),
        StructField("first_seen", TimestampType()),
        StructField("last_seen", TimestampType()),
        StructField("created_at", TimestampType()),
        StructField("updated_at", TimestampType(), False),
        StructField("event_date", DateType(), False),
        StructField("finding_count", LongType()),
        StructField("archived", StringType()),
        StructField("finding_json", StringType()),
        StructField("source_file", StringType(), False),
        StructField("record_index", LongType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)
