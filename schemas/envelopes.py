"""The CloudWatch Logs subscription envelope, as Firehose delivers it to S3.

One envelope per subscription delivery: ``messageType`` (``DATA_MESSAGE``, or ``CONTROL_MESSAGE``
when CloudWatch Logs checks that the destination is reachable), ``owner`` (the account),
``logGroup``, ``logStream``, ``subscriptionFilters`` and ``logEvents`` (``id``, ``timestamp`` in
epoch milliseconds, ``message``: the log record's text). Every scalar is read as text.
"""

from pyspark.sql.types import ArrayType, StringType, StructField, StructType

LOG_EVENT = StructType(
    [StructField(n, StringType()) for n in ("id", "timestamp", "message")]
)

CLOUDWATCH_ENVELOPE = StructType(
    [StructField(n, StringType()) for n in ("messageType", "owner", "logGroup", "logStream")]
    + [
        StructField("subscriptionFilters", ArrayType(StringType())),
        StructField("logEvents", ArrayType(LOG_EVENT)),
    ]
)
