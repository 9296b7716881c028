"""Amazon Security Lake's OCSF 1.x Parquet, as read: the fields of API Activity (class 6003, from
CloudTrail management events) and Network Activity (class 4001, from VPC Flow Logs) that
``jobs/sources/security_lake.py`` maps into the silver tables. Fields not listed are not read.

Names and nesting follow the OCSF 1.1 classes and AWS's CloudTrail and VPC Flow Logs mappings;
``time``, ``start_time`` and ``end_time`` are epoch milliseconds; ``unmapped`` holds the source
fields the mapping has no OCSF attribute for (``readOnly``, ``recipientAccountId``, ...).
"""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)


def _struct(**fields: DataType) -> StructType:
    return StructType([StructField(name, dtype) for name, dtype in fields.items()])


S = StringType()
_ACCOUNT = _struct(uid=S)
_METADATA = _struct(uid=S, version=S, event_code=S,
                    product=_struct(name=S, version=S, feature=_struct(name=S)))
_CLOUD = _struct(provider=S, region=S, zone=S, account=_ACCOUNT)

API_ACTIVITY = _struct(
    class_uid=IntegerType(),
    time=LongType(),
    metadata=_METADATA,
    api=_struct(
        operation=S, version=S, service=_struct(name=S),
        request=_struct(uid=S, data=S), response=_struct(error=S, message=S, data=S),
    ),
    actor=_struct(
        user=_struct(type=S, uid=S, uid_alt=S, name=S, credential_uid=S, account=_ACCOUNT),
        session=_struct(created_time_dt=TimestampType(), is_mfa=BooleanType(), issuer=S),
        invoked_by=S,
    ),
    src_endpoint=_struct(ip=S, domain=S, uid=S),
    http_request=_struct(user_agent=S),
    cloud=_CLOUD,
    resources=ArrayType(_struct(uid=S, type=S, owner=_struct(account=_ACCOUNT))),
    unmapped=MapType(S, S),
)

_ENDPOINT = _struct(
    ip=S, port=IntegerType(), intermediate_ips=ArrayType(S), svc_name=S, interface_uid=S,
    vpc_uid=S, instance_uid=S, subnet_uid=S,
)
NETWORK_ACTIVITY = _struct(
    class_uid=IntegerType(),
    time=LongType(),
    start_time=LongType(),
    end_time=LongType(),
    metadata=_METADATA,
    cloud=_CLOUD,
    src_endpoint=_ENDPOINT,
    dst_endpoint=_ENDPOINT,
    connection_info=_struct(protocol_num=IntegerType(), tcp_flags=IntegerType(), direction=S,
                            boundary_id=IntegerType()),
    traffic=_struct(packets=LongType(), bytes=LongType()),
    action=S,
    status_code=S,
    unmapped=MapType(S, S),
)
