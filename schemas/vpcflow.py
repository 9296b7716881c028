"""VPC Flow Logs contracts: the fields AWS documents for versions 2 to 8 and ``silver/vpc_flows``.

Text delivery names its fields in a header line; the table column is the field name with
hyphens turned into underscores (``account-id`` -> ``account_id``), which is also how the
Parquet delivery names them.
"""

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# Documented field -> (first version, type). Order is AWS's documentation order.
FIELDS: dict[str, tuple[int, DataType]] = {
    "version": (2, IntegerType()),
    "account-id": (2, StringType()),
    "interface-id": (2, StringType()),
    "srcaddr": (2, StringType()),
    "dstaddr": (2, StringType()),
    "srcport": (2, IntegerType()),
    "dstport": (2, IntegerType()),
    "protocol": (2, IntegerType()),
    "packets": (2, LongType()),
    "bytes": (2, LongType()),
    "start": (2, LongType()),
    "end": (2, LongType()),
    "action": (2, StringType()),
    "log-status": (2, StringType()),
    "vpc-id": (3, StringType()),
    "subnet-id": (3, StringType()),
    "instance-id": (3, StringType()),
    "tcp-flags": (3, IntegerType()),
    "type": (3, StringType()),
    "pkt-srcaddr": (3, StringType()),
    "pkt-dstaddr": (3, StringType()),
    "region": (4, StringType()),
    "az-id": (4, StringType()),
    "sublocation-type": (4, StringType()),
    "sublocation-id": (4, StringType()),
    "pkt-src-aws-service": (5, StringType()),
    "pkt-dst-aws-service": (5, StringType()),
    "flow-direction": (5, StringType()),
    "traffic-path": (5, IntegerType()),
    "ecs-cluster-arn": (7, StringType()),
    "ecs-cluster-name": (7, StringType()),
    "ecs-container-instance-arn": (7, StringType()),
    "ecs-container-instance-id": (7, StringType()),
    "ecs-container-id": (7, StringType()),
    "ecs-second-container-id": (7, StringType()),
    "ecs-service-name": (7, StringType()),
    "ecs-task-definition-arn": (7, StringType()),
    "ecs-task-arn": (7, StringType()),
    "ecs-task-id": (7, StringType()),
    "reject-reason": (8, StringType()),
}


def column_name(field: str) -> str:
    """``log-status`` -> ``log_status``."""
    return field.replace("-", "_")


# The Parquet delivery, as read: the same fields with underscores; whole numbers are read as
# bigint, which takes the INT_32 and INT_64 columns AWS writes alike, and typed to the table's
# types with try_cast (a value out of range is a quarantine reason, not a failed file).
PARQUET_DELIVERY = StructType(
    [StructField(column_name(f), LongType() if isinstance(t, IntegerType) else t)
     for f, (_, t) in FIELDS.items()]
)

VPC_FLOWS = StructType(
    [StructField("flow_id", StringType(), False)]
    + [StructField(column_name(f), t) for f, (_, t) in FIELDS.items()]
    + [
        StructField("start_time", TimestampType()),
        StructField("end_time", TimestampType()),
        StructField("event_date", DateType(), False),
        StructField("source_file", StringType(), False),
        StructField("record_index", LongType(), False),
        StructField("ingested_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
    ]
)

# Columns the runner adds to ``silver/vpc_flows`` in the ``vpc_flows`` view.
VPC_FLOWS_VIEW_EXTRA = StructType(
    [
        StructField("dst_asn", IntegerType()),
        StructField("dst_as_org", StringType()),
        StructField("dst_is_hosting", BooleanType()),
    ]
)
