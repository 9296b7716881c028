"""GuardDuty: the source spec, and exported findings (one JSON object per line) ->
``silver/guardduty_findings`` rows (pure transforms)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.runtime.delta import Table
from jobs.sources.base import LogSource
from jobs.sources.json_records import json_parser
from schemas.guardduty import GUARDDUTY_FINDINGS, RAW_FINDING


def _reason() -> Column:
    return F.expr(
        """CASE
          WHEN NOT startswith(ltrim(record), '{') THEN 'record is not a JSON object'
          WHEN f.id IS NULL AND try_parse_json(record) IS NULL THEN 'record is not valid JSON'
          WHEN f.id IS NULL OR trim(f.id) = '' THEN 'missing finding id'
          WHEN f.type IS NULL THEN 'missing finding type'
          WHEN try_cast(f.updatedAt AS TIMESTAMP) IS NULL THEN 'updatedAt missing or does not parse'
          WHEN f.severity IS NOT NULL AND try_cast(f.severity AS DOUBLE) IS NULL
            THEN 'severity is not a number'
        END"""
    )


def normalize_findings(records: DataFrame, run_id: str, ingested_at: Column) -> DataFrame:
    """Type findings. In: ``source_file``, ``record_index``, ``record``, ``file_reason``.

    Out: the ``silver/guardduty_findings`` columns plus ``record`` and ``reason`` (null for a
    good finding; a file-level reason wins). ``record`` is set on rows with a reason only: a
    good finding's text is its ``finding_json``.
    """
    f = records.withColumn("f", F.from_json("record", RAW_FINDING))
    severity = F.expr("try_cast(f.severity AS DOUBLE)")
    net = "f.service.action.networkConnectionAction"
    updated_at = F.expr("try_cast(f.updatedAt AS TIMESTAMP)")
    cols = {
        "finding_id": F.col("f.id"),
        "finding_type": F.col("f.type"),
        "severity": severity,
        # GuardDuty's documented bands: 7.0-8.9 high, 4.0-6.9 medium, 1.0-3.9 low (9+ critical).
        "severity_label": F.when(severity >= 9, "critical").when(severity >= 7, "high")
        .when(severity >= 4, "medium").when(severity.isNotNull(), "low"),
        "title": F.col("f.title"),
        "account_id": F.col("f.accountId"),
        "region": F.col("f.region"),
        "detector_id": F.col("f.service.detectorId"),
        "resource_type": F.col("f.resource.resourceType"),
        "instance_id": F.col("f.resource.instanceDetails.instanceId"),
        "access_key_id": F.col("f.resource.accessKeyDetails.accessKeyId"),
        "principal_id": F.col("f.resource.accessKeyDetails.principalId"),
        "user_name": F.col("f.resource.accessKeyDetails.userName"),
        "action_type": F.col("f.service.action.actionType"),
        "connection_direction": F.col(f"{net}.connectionDirection"),
        "remote_ip": F.coalesce(
            F.col(f"{net}.remoteIpDetails.ipAddressV4"),
            F.col(f"{net}.remoteIpDetails.ipAddressV6"),
            F.col("f.service.action.awsApiCallAction.remoteIpDetails.ipAddressV4"),
        ),
        "remote_port": F.expr(f"try_cast({net}.remotePortDetails.port AS INT)"),
        "remote_org": F.coalesce(
            F.col(f"{net}.remoteIpDetails.organization.asnOrg"),
            F.col("f.service.action.awsApiCallAction.remoteIpDetails.organization.asnOrg"),
        ),
        "api_call": F.col("f.service.action.awsApiCallAction.api"),
        "dns_domain": F.col("f.service.action.dnsRequestAction.domain"),
        "first_seen": F.expr("try_cast(f.service.eventFirstSeen AS TIMESTAMP)"),
        "last_seen": F.expr("try_cast(f.service.eventLastSeen AS TIMESTAMP)"),
        "created_at": F.expr("try_cast(f.createdAt AS TIMESTAMP)"),
        "updated_at": updated_at,
        "event_date": F.to_date(updated_at),
        "finding_count": F.expr("try_cast(f.service.count AS BIGINT)"),
        "archived": F.col("f.service.archived"),
        "finding_json": F.col("record"),
        "source_file": F.col("source_file"),
        "record_index": F.col("record_index"),
        "ingested_at": ingested_at,
        "run_id": F.lit(run_id),
    }
    typed = [
        cols[c.name].cast(c.dataType.simpleString()).alias(c.name)
        for c in GUARDDUTY_FINDINGS.fields
    ]
    reason = F.coalesce(F.col("file_reason"), _reason())
    record = F.when(reason.isNotNull(), F.col("record"))
    return f.select(*typed, record.alias("record"), reason.alias("reason"))



GUARDDUTY = LogSource(
    name="guardduty",
    id_prefix="GD",
    path_markers=("/GuardDuty/",),
    table=Table("silver/guardduty_findings", GUARDDUTY_FINDINGS, ("event_date",)),
    key="finding_id",
    upsert_on="updated_at",
    raw_column="finding_json",
    raw_is_json=True,
    parse=json_parser(normalize_findings),
    view="guardduty_findings",
    time_expression="coalesce(first_seen, updated_at)",
    case_time_column="updated_at",
    json_columns=("finding_json",),
    time_columns=("created_at", "updated_at", "first_seen", "last_seen"),
    earliest_time="2017-01-01",  # the year the service launched
)
