"""The SQL views detections read, and the pure transforms that derive their extra columns.

Views: ``cloudtrail_events`` (silver + ``actor_arn``, ``ua_family``, ``src_asn``, ``src_as_org``,
``src_is_hosting``), ``vpc_flows`` (silver + ``dst_asn``, ``dst_as_org``, ``dst_is_hosting``),
``guardduty_findings`` (silver), one ``baseline_<kind>`` view per baseline kind, and helper-2's
``intel_*`` views and SQL functions (``is_private_ip``, ``ip_version``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from jobs.frames import local_frame
from schemas.alerts import BASELINES, CLOUDTRAIL_VIEW_EXTRA, VPC_FLOWS_VIEW_EXTRA
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from schemas.guardduty import GUARDDUTY_FINDINGS
from schemas.vpcflow import VPC_FLOWS

# View -> the event-time expression windows are cut on (also used to find late data).
TIME_EXPRESSIONS = {
    "cloudtrail_events": "event_time",
    "vpc_flows": "start_time",
    "guardduty_findings": "coalesce(first_seen, updated_at)",
}

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

CLOUDTRAIL_VIEW = StructType(list(CLOUDTRAIL_EVENTS.fields) + list(CLOUDTRAIL_VIEW_EXTRA.fields))
VPC_FLOWS_VIEW = StructType(list(VPC_FLOWS.fields) + list(VPC_FLOWS_VIEW_EXTRA.fields))
VIEW_SCHEMAS: dict[str, StructType] = {
    "cloudtrail_events": CLOUDTRAIL_VIEW,
    "vpc_flows": VPC_FLOWS_VIEW,
    "guardduty_findings": GUARDDUTY_FINDINGS,
}

# Baseline kind -> (view, subject column, value column, value type). The SELECTs that feed each
# kind live in jobs/detect/baselines.py.
BASELINE_KINDS: dict[str, tuple[str, str, str]] = {
    "principal_asn": ("actor_arn", "asn", "int"),
    "principal_ip": ("actor_arn", "source_ip", "string"),
    "principal_user_agent": ("actor_arn", "ua_family", "string"),
    "principal_event": ("actor_arn", "event_key", "string"),
    "principal_instance_type": ("actor_arn", "instance_type", "string"),
    "access_key_usage": ("access_key_id", "", "string"),
    "access_key_asn": ("access_key_id", "asn", "int"),
    "eni_instance": ("eni", "instance_id", "string"),
    "trail_bucket": ("bucket", "trail_name", "string"),
    "trail_creator": ("actor_arn", "trail_name", "string"),
    "principal_secret": ("actor_arn", "secret", "string"),
}


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


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Select ``schema``'s columns in order, adding missing ones as typed NULLs."""
    present = set(df.columns)
    # SQL text, parsed once on the JVM: building a Column and a cast per field from Python costs
    # a py4j round trip each, 0.4 s per silver view.
    return df.selectExpr(
        *[
            f"CAST({_quoted(f.name) if f.name in present else 'NULL'}"
            f" AS {f.dataType.simpleString()}) AS {_quoted(f.name)}"
            for f in schema.fields
        ]
    )


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def empty_frame(spark: SparkSession, schema: StructType) -> DataFrame:
    """An empty DataFrame of ``schema`` (nullable, so test rows may omit any column)."""
    relaxed = StructType([StructField(f.name, f.dataType, True) for f in schema.fields])
    return local_frame(spark, [], relaxed)


def baseline_view(baselines: DataFrame, kind: str) -> DataFrame:
    """The ``baseline_<kind>`` view: subject and value under their own names, first/last seen."""
    subject, value, value_type = BASELINE_KINDS[kind]
    cols = [F.col("subject").alias(subject)]
    if value:
        cols.append(F.expr(f"try_cast(value AS {value_type})").alias(value))
    return baselines.where(F.col("kind") == kind).select(*cols, "first_seen", "last_seen")


def register_views(spark: SparkSession, frames: Mapping[str, DataFrame], baselines: DataFrame | None) -> None:
    """Register the silver views (``frames`` by view name; missing ones empty) and the baseline
    views (from the baselines table, or empty)."""
    for view, schema in VIEW_SCHEMAS.items():
        frame = frames.get(view)
        (conform(frame, schema) if frame is not None else empty_frame(spark, schema)).createOrReplaceTempView(view)
    source = baselines if baselines is not None else empty_frame(spark, BASELINES)
    for kind in BASELINE_KINDS:
        baseline_view(source, kind).createOrReplaceTempView(f"baseline_{kind}")
