"""CloudTrail contracts: the raw record as read from JSON and the
``silver/cloudtrail_events`` table.

Every scalar in the raw record is read as a string and typed later with ``try_cast``: log fields
are attacker-controlled, and a wrong JSON type must quarantine a record, not fail a file.
Nested objects are read as strings, which keeps their JSON text unchanged.
"""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _strings(*names: str) -> list[StructField]:
    return [StructField(n, StringType()) for n in names]


SESSION_ISSUER = StructType(_strings("type", "principalId", "arn", "accountId", "userName"))

USER_IDENTITY = StructType(
    _strings("type", "principalId", "arn", "accountId", "accessKeyId", "userName", "invokedBy")
    + [
        StructField(
            "sessionContext",
            StructType(
                [
                    StructField(
                        "attributes", StructType(_strings("mfaAuthenticated", "creationDate"))
                    ),
                    StructField("sessionIssuer", SESSION_ISSUER),
                    StructField("sourceIdentity", StringType()),
                ]
            ),
        )
    ]
)

# A file delivered by CloudTrail to S3: {"Records": [...]}; each record kept as JSON text.
DELIVERY_FILE = StructType([StructField("Records", ArrayType(StringType()))])

RAW_RECORD = StructType(
    _strings("eventVersion")
    + [StructField("userIdentity", USER_IDENTITY)]
    + _strings(
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "errorCode",
        "errorMessage",
        "requestParameters",
        "responseElements",
        "additionalEventData",
        "requestID",
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "apiVersion",
        "managementEvent",
        "recipientAccountId",
        "serviceEventDetails",
        "sharedEventID",
        "vpcEndpointId",
        "eventCategory",
        "tlsDetails",
        "sessionCredentialFromConsole",
    )
    # CloudTrail Insights events name the service and API here instead of at the top level.
    + [StructField("insightDetails", StructType(_strings("state", "eventSource", "eventName")))]
)

# EventBridge wraps a CloudTrail event:
# {"detail-type": "AWS API Call via CloudTrail", "detail": {...}}
EVENTBRIDGE_ENVELOPE = StructType(_strings("detail-type", "detail"))

CLOUDTRAIL_EVENTS = StructType(
    [
        StructField("event_id", StringType(), False),
        StructField("event_time", TimestampType(), False),
        StructField("event_date", DateType(), False),
        StructField("event_version", StringType()),
        StructField("event_source", StringType()),
        StructField("event_name", StringType()),
        StructField("event_type", StringType()),
        StructField("event_category", StringType()),
        StructField("aws_region", StringType()),
        StructField("account_id", StringType()),
        StructField("recipient_account_id", StringType()),
        StructField("user_identity_type", StringType()),
        StructField("principal_arn", StringType()),
        StructField("principal_id", StringType()),
        StructField("access_key_id", StringType()),
        StructField("user_name", StringType()),
        StructField("session_issuer_arn", StringType()),
        StructField("session_issuer_type", StringType()),
        StructField("invoked_by", StringType()),
        StructField("is_root", BooleanType()),
        StructField("mfa_authenticated", BooleanType()),
        StructField("session_created_at", TimestampType()),
        StructField("source_ip", StringType()),
        StructField("user_agent", StringType()),
        StructField("read_only", BooleanType()),
        StructField("management_event", BooleanType()),
        StructField("error_code", StringType()),
        StructField("error_message", StringType()),
        StructField("request_id", StringType()),
        StructField("shared_event_id", StringType()),
        StructField("vpc_endpoint_id", StringType()),
        StructField("request_parameters", StringType()),
        StructField("response_elements", StringType()),
        StructField("additional_event_data", StringType()),
        StructField("resources", StringType()),
        StructField("service_event_details", StringType()),
        StructField("tls_details", StringType()),
        StructField("record_json", StringType()),
        StructField("source_file", StringType(), False),
        StructField("record_index", LongType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)

# Columns the runner adds to ``silver/cloudtrail_events`` in the ``cloudtrail_events`` view.
CLOUDTRAIL_VIEW_EXTRA = StructType(
    [
        StructField("actor_arn", StringType()),
        StructField("ua_family", StringType()),
        StructField("src_asn", IntegerType()),
        StructField("src_as_org", StringType()),
        StructField("src_is_hosting", BooleanType()),
    ]
)
