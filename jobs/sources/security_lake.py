"""Amazon Security Lake input: OCSF 1.x Parquet mapped into the CloudTrail and flow-log rows.

Security Lake writes each AWS source under
``aws/<SOURCE>/<version>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/*.parquet``;
``CLOUD_TRAIL_MGMT`` holds API Activity (class 6003) and ``VPC_FLOW`` Network Activity (class
4001). The mapping is the inverse of AWS's CloudTrail and VPC Flow Logs to OCSF mappings
(docs/tables.md): API Activity rows are rebuilt as CloudTrail records and typed by the CloudTrail
source's own ``normalize_records``; Network Activity rows become flow-log fields typed by the
flow-log source's Parquet path. So every detection reads them as it reads native logs, and the
lineage (``source_file``, ``record_index``: the 1-based row) points at the Security Lake object.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from schemas.vpcflow import PARQUET_DELIVERY

API_ACTIVITY_MARKER = "/CLOUD_TRAIL_MGMT/"
NETWORK_ACTIVITY_MARKER = "/VPC_FLOW/"
_ISO = "yyyy-MM-dd'T'HH:mm:ss'Z'"


def read_ocsf(spark: SparkSession, paths: list[str], schema: StructType) -> DataFrame:
    """Security Lake Parquet objects with the OCSF fields read (I/O edge), plus ``source_file``
    and ``record_index``; a file that cannot be read yields no row (diagnosed by the caller)."""
    return (
        spark.read.schema(schema)
        .option("ignoreCorruptFiles", "true")
        .parquet(*paths)
        .select("*", F.col("_metadata.file_path").alias("source_file"),
                (F.col("_metadata.row_index") + 1).alias("record_index"))
    )


def _unmapped(key: str) -> Column:
    return F.col("unmapped")[key]


def api_activity_records(rows: DataFrame) -> DataFrame:
    """API Activity rows -> CloudTrail records.

    In: ``schemas.security_lake.API_ACTIVITY`` columns, ``source_file``, ``record_index``.
    Out: ``source_file``, ``record_index``, ``record`` (the CloudTrail record rebuilt as JSON
    text, fields the row lacks left out) and ``file_reason`` (set when the row is not API
    Activity).
    """
    user, session = "actor.user", "actor.session"
    identity = F.struct(
        F.col(f"{user}.type").alias("type"),
        F.col(f"{user}.uid_alt").alias("principalId"),
        F.col(f"{user}.uid").alias("arn"),
        F.col(f"{user}.account.uid").alias("accountId"),
        F.col(f"{user}.credential_uid").alias("accessKeyId"),
        F.col(f"{user}.name").alias("userName"),
        F.col("actor.invoked_by").alias("invokedBy"),
        F.struct(
            F.struct(
                F.col(f"{session}.is_mfa").cast("string").alias("mfaAuthenticated"),
                F.date_format(f"{session}.created_time_dt", _ISO).alias("creationDate"),
            ).alias("attributes"),
            F.struct(
                _unmapped("userIdentity.sessionContext.sessionIssuer.type").alias("type"),
                F.col(f"{session}.issuer").alias("arn"),
            ).alias("sessionIssuer"),
        ).alias("sessionContext"),
    )
    resources = F.transform("resources", lambda r: F.struct(
        r["uid"].alias("ARN"), r["owner"]["account"]["uid"].alias("accountId"),
        r["type"].alias("type")))
    record = F.struct(
        F.col("metadata.product.version").alias("eventVersion"),
        identity.alias("userIdentity"),
        F.date_format(F.timestamp_millis("time"), _ISO).alias("eventTime"),
        F.col("api.service.name").alias("eventSource"),
        F.col("api.operation").alias("eventName"),
        F.col("cloud.region").alias("awsRegion"),
        F.coalesce("src_endpoint.ip", "src_endpoint.domain").alias("sourceIPAddress"),
        F.col("http_request.user_agent").alias("userAgent"),
        F.col("api.response.error").alias("errorCode"),
        F.col("api.response.message").alias("errorMessage"),
        F.col("api.request.data").alias("requestParameters"),
        F.col("api.response.data").alias("responseElements"),
        _unmapped("additionalEventData").alias("additionalEventData"),
        F.col("api.request.uid").alias("requestID"),
        F.col("metadata.uid").alias("eventID"),
        _unmapped("readOnly").alias("readOnly"),
        F.when(F.size("resources") > 0, F.to_json(resources)).alias("resources"),
        F.col("metadata.event_code").alias("eventType"),
        F.col("api.version").alias("apiVersion"),
        _unmapped("managementEvent").alias("managementEvent"),
        F.coalesce(_unmapped("recipientAccountId"), F.col("cloud.account.uid"))
        .alias("recipientAccountId"),
        _unmapped("serviceEventDetails").alias("serviceEventDetails"),
        _unmapped("sharedEventID").alias("sharedEventID"),
        F.col("src_endpoint.uid").alias("vpcEndpointId"),
        F.col("metadata.product.feature.name").alias("eventCategory"),
        _unmapped("tlsDetails").alias("tlsDetails"),
    )
    return rows.select(
        "source_file", "record_index", F.to_json(record).alias("record"),
        F.when(F.col("class_uid").isNull() | (F.col("class_uid") != 6003),
               F.lit("OCSF row is not API Activity (class_uid 6003)"))
        .alias("file_reason"),
    )


def _endpoint_field(name: str) -> Column:
    """An interface attribute, held by the source endpoint of egress flows and the destination
    endpoint of ingress flows."""
    return F.coalesce(F.col(f"src_endpoint.{name}"), F.col(f"dst_endpoint.{name}"))


def network_activity_flows(rows: DataFrame) -> DataFrame:
    """Network Activity rows -> flow-log fields as the Parquet delivery names them.

    In: ``schemas.security_lake.NETWORK_ACTIVITY`` columns, ``source_file``, ``record_index``.
    Out: the ``PARQUET_DELIVERY`` columns (fields OCSF does not carry are null), ``source_file``,
    ``record_index`` and ``not_network_activity`` (a row of another class).
    """
    src_ip, dst_ip = F.col("src_endpoint.ip"), F.col("dst_endpoint.ip")
    direction = F.lower("connection_info.direction")
    fields = {
        "version": F.col("metadata.product.version").try_cast("bigint"),
        "account_id": F.col("cloud.account.uid"),
        "interface_id": _endpoint_field("interface_uid"),
        "srcaddr": F.coalesce(F.element_at("src_endpoint.intermediate_ips", 1), src_ip),
        "dstaddr": F.coalesce(F.element_at("dst_endpoint.intermediate_ips", 1), dst_ip),
        "srcport": F.col("src_endpoint.port"),
        "dstport": F.col("dst_endpoint.port"),
        "protocol": F.col("connection_info.protocol_num"),
        "packets": F.col("traffic.packets"),
        "bytes": F.col("traffic.bytes"),
        "start": F.floor(F.coalesce("start_time", "time") / 1000),
        "end": F.floor(F.col("end_time") / 1000),
        "action": F.when(F.col("action") == "Allowed", "ACCEPT")
        .when(F.col("action") == "Denied", "REJECT").otherwise(F.col("action")),
        "log_status": F.col("status_code"),
        "vpc_id": _endpoint_field("vpc_uid"),
        "subnet_id": _endpoint_field("subnet_uid"),
        "instance_id": _endpoint_field("instance_uid"),
        "tcp_flags": F.col("connection_info.tcp_flags"),
        "pkt_srcaddr": src_ip,
        "pkt_dstaddr": dst_ip,
        "region": F.col("cloud.region"),
        "az_id": F.col("cloud.zone"),
        "pkt_src_aws_service": F.col("src_endpoint.svc_name"),
        "pkt_dst_aws_service": F.col("dst_endpoint.svc_name"),
        "flow_direction": F.when(direction.isin("inbound", "ingress"), "ingress")
        .when(direction.isin("outbound", "egress"), "egress"),
    }
    cols = [
        (fields[f.name] if f.name in fields else F.lit(None)).cast(f.dataType).alias(f.name)
        for f in PARQUET_DELIVERY.fields
    ]
    return rows.select(
        *cols, "source_file", "record_index",
        (F.col("class_uid").isNull() | (F.col("class_uid") != 4001)).alias("not_network_activity"),
    )

