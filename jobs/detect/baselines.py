"""First-seen baselines (``gold/baselines/first_seen``): one row per (kind, subject, value) with
first and last sighting, maintained by an idempotent MERGE after the detections of a window ran.

Detections read them as ``baseline_<kind>`` views (``jobs.detect.views.BASELINE_KINDS``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.runtime.delta import merge_on_keys
from jobs.runtime.frames import union_all

log = logging.getLogger("trailwarden.detect")


# kind -> SELECT subject, value, event_time over the enriched ``cloudtrail_events`` view.
BASELINE_SOURCES: dict[str, str] = {
    "principal_asn": """
        SELECT actor_arn AS subject, CAST(src_asn AS STRING) AS value, event_time
        FROM cloudtrail_events WHERE src_asn IS NOT NULL""",
    "principal_ip": """
        SELECT actor_arn AS subject, source_ip AS value, event_time
        FROM cloudtrail_events WHERE ip_version(source_ip) IS NOT NULL""",
    "principal_user_agent": """
        SELECT actor_arn AS subject, ua_family AS value, event_time
        FROM cloudtrail_events WHERE ua_family <> 'unknown'""",
    "principal_event": """
        SELECT actor_arn AS subject, concat(event_source, ':', event_name) AS value, event_time
        FROM cloudtrail_events WHERE error_code IS NULL""",
    "principal_instance_type": """
        SELECT actor_arn AS subject,
            lower(get_json_object(request_parameters, '$.instanceType')) AS value, event_time
        FROM cloudtrail_events
        WHERE event_name = 'RunInstances' AND error_code IS NULL
            AND get_json_object(request_parameters, '$.instanceType') IS NOT NULL""",
    "access_key_usage": """
        SELECT access_key_id AS subject, '' AS value, event_time
        FROM cloudtrail_events WHERE access_key_id LIKE 'AKIA%'""",
    "access_key_asn": """
        SELECT access_key_id AS subject, CAST(src_asn AS STRING) AS value, event_time
        FROM cloudtrail_events WHERE access_key_id LIKE 'AKIA%' AND src_asn IS NOT NULL""",
    "eni_instance": """
        SELECT n.networkInterfaceId AS subject, i.instanceId AS value, event_time
        FROM cloudtrail_events
        LATERAL VIEW explode(from_json(response_elements,
            'struct<instancesSet:struct<items:array<struct<instanceId:string,
                networkInterfaceSet:struct<items:array<struct<networkInterfaceId:string>>>>>>>'
        ).instancesSet.items) AS i
        LATERAL VIEW explode(i.networkInterfaceSet.items) AS n
        WHERE event_source = 'ec2.amazonaws.com' AND event_name = 'RunInstances'""",
    "trail_bucket": """
        SELECT get_json_object(request_parameters, '$.s3BucketName') AS subject,
            regexp_extract(get_json_object(request_parameters, '$.name'), '[^/]+$', 0)
            AS value, event_time
        FROM cloudtrail_events
        WHERE event_source = 'cloudtrail.amazonaws.com'
            AND event_name IN ('CreateTrail', 'UpdateTrail')
            AND error_code IS NULL""",
    "trail_creator": """
        SELECT actor_arn AS subject,
            regexp_extract(get_json_object(request_parameters, '$.name'), '[^/]+$', 0)
            AS value, event_time
        FROM cloudtrail_events
        WHERE event_source = 'cloudtrail.amazonaws.com' AND event_name = 'CreateTrail'
            AND error_code IS NULL""",
    "principal_secret": """
        SELECT actor_arn AS subject, secret AS value, event_time
        FROM cloudtrail_events
        LATERAL VIEW explode(CASE
            WHEN event_name = 'GetSecretValue'
            THEN array(get_json_object(request_parameters, '$.secretId'))
            WHEN event_name = 'GetParameter'
            THEN array(get_json_object(request_parameters, '$.name'))
            ELSE from_json(coalesce(get_json_object(request_parameters, '$.names'),
                get_json_object(request_parameters, '$.secretIdList')), 'array<string>')
        END) s AS secret
        WHERE error_code IS NULL AND (
            (event_source = 'secretsmanager.amazonaws.com'
            AND event_name IN ('GetSecretValue', 'BatchGetSecretValue'))
            OR (event_source = 'ssm.amazonaws.com'
            AND event_name IN ('GetParameter', 'GetParameters')))""",
}


def observations(spark: SparkSession, start: datetime, end: datetime) -> DataFrame:
    """(kind, subject, value, first_seen, last_seen) of the events in ``[start, end)`` of the
    registered ``cloudtrail_events`` view."""
    parts = [
        spark.sql(sql, args={}).where(
            (F.col("event_time") >= F.lit(start)) & (F.col("event_time") < F.lit(end))
        ).select(F.lit(kind).alias("kind"), "subject", "value", "event_time")
        for kind, sql in BASELINE_SOURCES.items()
    ]
    return (
        union_all(parts).where(F.col("subject").isNotNull() & F.col("value").isNotNull())
        .groupBy("kind", "subject", "value")
        .agg(F.min("event_time").alias("first_seen"), F.max("event_time").alias("last_seen"))
    )


def merge_baselines(target: DeltaTable, seen: DataFrame, run_id: str, now: datetime) -> None:
    """Widen each row's [first_seen, last_seen]; rows already covering the sighting stay
    untouched."""
    source = seen.withColumn("updated_at", F.lit(now)).withColumn("run_id", F.lit(run_id))
    merge_on_keys(
        target, source, ["kind", "subject", "value"],
        update="s.first_seen < t.first_seen OR s.last_seen > t.last_seen",
        update_set={
            "first_seen": "least(t.first_seen, s.first_seen)",
            "last_seen": "greatest(t.last_seen, s.last_seen)",
            "updated_at": "s.updated_at",
            "run_id": "s.run_id",
        },
    )
