"""Amazon SNS: one message per change to a topic, with message attributes for subscription
filter policies (``severity``, ``detection``, ``account``, ``action``) and the delivery id as
``MessageDeduplicationId`` on FIFO topics."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jobs.delivery.context import Context
from jobs.delivery.escape import one_line
from jobs.delivery.model import Delivery, Outcome
from jobs.delivery.render import document, summary
from jobs.delivery.retry import DeliveryError, Retryable, one_by_one
from jobs.delivery.settings import Destination
from jobs.runtime.aws import sns_client

SCHEMA: dict[str, Any] = {
    "properties": {
        "topic_arn": {
            "type": "string", "pattern": r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$"
        },
    },
    "required": ["topic_arn"],
}
SECRETS: dict[str, bool] = {}
# A re-send carries the same delivery id (FIFO deduplication id and attribute).
DEDUPLICATES = True
THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
             "RequestLimitExceeded", "KMSThrottlingException"}


def attributes(delivery: Delivery) -> dict[str, dict[str, str]]:
    """String message attributes for filter policies (empty values left out, as SNS requires)."""
    doc = delivery.doc
    detection = doc.get("detection_name") or ",".join(doc.get("detection_names") or [])
    values = {"severity": delivery.severity, "detection": detection,
              "account": doc.get("account_id"), "action": delivery.action,
              "delivery_id": delivery.delivery_id}
    return {k: {"DataType": "String", "StringValue": str(v)[:256]} for k, v in values.items() if v}


def deliver(dest: Destination, batch: Sequence[Delivery], context: Context) -> list[Outcome]:
    """Publish one JSON document per delivery, in order."""
    from botocore.exceptions import BotoCoreError, ClientError

    arn = dest.settings["topic_arn"]
    client = sns_client({**context.conf, "sns": {"timeout_seconds": dest.policy.timeout_seconds}},
                        arn.split(":")[3])

    def send(delivery: Delivery) -> str:
        request: dict[str, Any] = {
            "TopicArn": arn,
            "Subject": one_line(summary(delivery).encode("ascii", "replace").decode(), 100),
            "Message": json.dumps(document(delivery, context.link(delivery, dest.settings))),
            "MessageAttributes": attributes(delivery),
        }
        if arn.endswith(".fifo"):
            request.update(MessageGroupId=delivery.object_id,
                           MessageDeduplicationId=delivery.delivery_id)
        try:
            answer = client.publish(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in THROTTLED or status >= 500:
                raise Retryable(f"SNS {code or status}") from None
            message = exc.response.get("Error", {}).get("Message")
            raise DeliveryError(f"SNS {code}: {message}") from None
        except BotoCoreError as exc:
            raise Retryable(f"SNS unreachable ({type(exc).__name__})") from None
        return f"MessageId {answer.get('MessageId')}"

    return one_by_one(batch, send, dest.policy)
