"""CloudTrail: the source spec, JSON records -> typed ``silver/cloudtrail_events`` rows, and the
view columns detections read (``actor_arn``, ``ua_family``). Transforms are pure."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.delta import Table
from jobs.runtime.frames import union_all
from jobs.sources.base import LogSource
from jobs.sources.json_records import split_records
from jobs.sources.readers import read_whole_files
from jobs.sources.security_lake import API_ACTIVITY_MARKER, api_activity_records, read_ocsf
from schemas.cloudtrail import CLOUDTRAIL_EVENTS, CLOUDTRAIL_VIEW_EXTRA, RAW_RECORD
from schemas.security_lake import API_ACTIVITY

# Families of user agents; the first match wins. Programmatic families are everything except
# console, aws-service, aws-internal and unknown.
UA_FAMILY_SQL = """CASE
  WHEN {ua} IS NULL OR trim({ua}) = '' THEN 'unknown'
  WHEN lower({ua}) LIKE '%terraform%' THEN 'terraform'
  WHEN lower({ua}) LIKE '%cloudformation%' THEN 'cloudformation'
  WHEN lower({ua}) RLIKE '(^|[ (])aws-cli/' THEN 'aws-cli'
  WHEN lower({ua}) RLIKE '(^|[ (])boto3/' THEN 'boto3'
  WHEN lower({ua}) RLIKE '(^|[ (])botocore/' THEN 'botocore'
  WHEN lower({ua}) RLIKE '(^|[ (])aws-sdk-go-v2/' THEN 'aws-sdk-go-v2'
  WHEN lower({ua}) RLIKE '(^|[ (])aws-sdk-go/' THEN 'aws-sdk-go'
  WHEN lower({ua}) RLIKE 'aws-sdk-[a-z]+' THEN regexp_extract(lower({ua}), '(aws-sdk-[a-z]+)', 1)
  WHEN lower({ua}) LIKE '%powershell%' THEN 'powershell'
  WHEN {ua} = 'AWS Internal' THEN 'aws-internal'
  WHEN lower({ua}) IN ('signin.amazonaws.com', 'console.amazonaws.com')
    OR lower({ua}) RLIKE '^console[.][a-z0-9.-]*amazonaws[.]com$'
    OR {ua} LIKE 'Mozilla/%' THEN 'console'
  WHEN lower({ua}) RLIKE '^[a-z0-9.-]+[.]amazonaws[.]com$' THEN 'aws-service'
  ELSE 'other'
END"""

def _bool(name: str) -> Column:
    return F.expr(f"try_cast({name} AS BOOLEAN)")


def record_reason(r: str = "r", record: str = "record") -> Column:
    """Why a parsed record cannot be an event (null when it can)."""
    return F.expr(
        f"""CASE
          WHEN NOT startswith(ltrim({record}), '{{') THEN 'record is not a JSON object'
          WHEN {r}.eventTime IS NULL AND try_parse_json({record}) IS NULL
            THEN 'record is not valid JSON'
          WHEN {r}.eventTime IS NULL THEN 'missing eventTime'
          WHEN try_cast({r}.eventTime AS TIMESTAMP) IS NULL THEN 'eventTime does not parse'
          WHEN {r}.eventID IS NULL OR trim({r}.eventID) = '' THEN 'missing eventID'
        END"""
    )


def normalize_records(records: DataFrame, run_id: str, ingested_at: Column) -> DataFrame:
    """Type CloudTrail records.

    In: ``source_file``, ``record_index``, ``record``, ``file_reason``. Out: the
    ``silver/cloudtrail_events`` columns plus ``record`` and ``reason`` (null for a good event;
    a file-level reason wins; rows with a reason belong in quarantine or, ``skipped:``, nowhere).
    ``record`` is set on rows with a reason only: a good event's text is its ``record_json``.
    """
    parsed = records.withColumn("r", F.from_json("record", RAW_RECORD))
    ui = "r.userIdentity"
    mfa_console = F.get_json_object("r.additionalEventData", "$.MFAUsed")
    event_time = F.expr("try_cast(r.eventTime AS TIMESTAMP)")
    cols = {
        "event_id": F.col("r.eventID"),
        "event_time": event_time,
        "event_date": F.to_date(event_time),
        "event_version": F.col("r.eventVersion"),
        "event_source": F.coalesce("r.eventSource", "r.insightDetails.eventSource"),
        "event_name": F.coalesce("r.eventName", "r.insightDetails.eventName"),
        "event_type": F.col("r.eventType"),
        "event_category": F.col("r.eventCategory"),
        "aws_region": F.col("r.awsRegion"),
        "account_id": F.coalesce(F.col("r.recipientAccountId"), F.col(f"{ui}.accountId")),
        "recipient_account_id": F.col("r.recipientAccountId"),
        "user_identity_type": F.col(f"{ui}.type"),
        "principal_arn": F.col(f"{ui}.arn"),
        "principal_id": F.col(f"{ui}.principalId"),
        "access_key_id": F.col(f"{ui}.accessKeyId"),
        "user_name": F.col(f"{ui}.userName"),
        "session_issuer_arn": F.col(f"{ui}.sessionContext.sessionIssuer.arn"),
        "session_issuer_type": F.col(f"{ui}.sessionContext.sessionIssuer.type"),
        "invoked_by": F.col(f"{ui}.invokedBy"),
        "is_root": F.coalesce(F.col(f"{ui}.type") == "Root", F.lit(False)),
        "mfa_authenticated": F.coalesce(
            _bool(f"{ui}.sessionContext.attributes.mfaAuthenticated"),
            F.when(mfa_console.isNotNull(), mfa_console == "Yes"),
        ),
        "session_created_at": F.expr(
            f"try_cast({ui}.sessionContext.attributes.creationDate AS TIMESTAMP)"
        ),
        "source_ip": F.col("r.sourceIPAddress"),
        "user_agent": F.col("r.userAgent"),
        "read_only": _bool("r.readOnly"),
        "management_event": _bool("r.managementEvent"),
        "error_code": F.col("r.errorCode"),
        "error_message": F.col("r.errorMessage"),
        "request_id": F.col("r.requestID"),
        "shared_event_id": F.col("r.sharedEventID"),
        "vpc_endpoint_id": F.col("r.vpcEndpointId"),
        "request_parameters": F.col("r.requestParameters"),
        "response_elements": F.col("r.responseElements"),
        "additional_event_data": F.col("r.additionalEventData"),
        "resources": F.col("r.resources"),
        "service_event_details": F.col("r.serviceEventDetails"),
        "tls_details": F.col("r.tlsDetails"),
        "record_json": F.col("record"),
        "source_file": F.col("source_file"),
        "record_index": F.col("record_index"),
        "ingested_at": ingested_at,
        "run_id": F.lit(run_id),
    }
    typed = [
        cols[f.name].cast(f.dataType.simpleString()).alias(f.name) for f in CLOUDTRAIL_EVENTS.fields
    ]
    reason = F.coalesce(F.col("file_reason"), record_reason())
    record = F.when(reason.isNotNull(), F.col("record"))
    return parsed.select(*typed, record.alias("record"), reason.alias("reason"))


def ua_family(ua_col: str = "user_agent") -> F.Column:
    """The user-agent family (``aws-sdk-go``, ``boto3``, ``aws-cli``, ``terraform``, ``console``,
    ``aws-service``, ...) of column ``ua_col``."""
    return F.expr(UA_FAMILY_SQL.format(ua=ua_col))


def with_cloudtrail_extras(events: DataFrame) -> DataFrame:
    """Add ``actor_arn`` (the role for an assumed-role session, else the principal) and
    ``ua_family``. In: ``principal_arn``, ``session_issuer_arn``, ``user_agent``."""
    return events.withColumn(
        "actor_arn", F.coalesce(F.col("session_issuer_arn"), F.col("principal_arn"))
    ).withColumn("ua_family", ua_family())


def parse(
    spark: SparkSession, paths: list[str], raw_max: int, run_id: str, ingested_at: Column
) -> DataFrame:
    """CloudTrail JSON files (trails, exports, Firehose envelopes) and Security Lake API
    Activity objects -> typed rows."""
    lake = [p for p in paths if API_ACTIVITY_MARKER in p]
    files = [p for p in paths if API_ACTIVITY_MARKER not in p]
    parts = []
    if files:
        parts.append(split_records(read_whole_files(spark, files), raw_max))
    if lake:
        parts.append(api_activity_records(read_ocsf(spark, lake, API_ACTIVITY)))
    return normalize_records(union_all(parts), run_id, ingested_at)


CLOUDTRAIL = LogSource(
    name="cloudtrail",
    id_prefix="CT",
    path_markers=("/CloudTrail/", API_ACTIVITY_MARKER),
    digest_markers=("/CloudTrail-Digest/", "_CloudTrail-Digest_"),
    table=Table("silver/cloudtrail_events", CLOUDTRAIL_EVENTS, ("event_date",)),
    key="event_id",
    raw_column="record_json",
    raw_is_json=True,
    parse=parse,
    view="cloudtrail_events",
    time_expression="event_time",
    case_time_column="event_time",
    view_extras=CLOUDTRAIL_VIEW_EXTRA,
    add_view_columns=with_cloudtrail_extras,
    asn_lookups=(("source_ip", "src_"),),
    heavy_columns=("record_json",),
    json_columns=("request_parameters", "response_elements", "additional_event_data", "resources",
                  "service_event_details", "tls_details", "record_json"),
    time_columns=("event_time",),
    earliest_time="2013-01-01",  # the year the service launched
)
