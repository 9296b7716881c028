"""New landing objects from S3 event notifications, read from an SQS queue.

The bucket sends ``s3:ObjectCreated:*`` events to the queue, directly or through an SNS topic
(whose envelope is unwrapped). ``read_notice`` turns one message body into the landing files it
announces (plain values, no I/O); ``receive`` and ``delete`` talk to SQS through the boto3 client
they are given. A run deletes its messages only after it committed their files to the manifest
(``jobs.ingest.discover``): a run that dies first leaves them to become visible again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from jobs.ingest.landing import LandingFile
from jobs.runtime.times import DurationError, parse_time

log = logging.getLogger("trailwarden.s3")
TEST_EVENT = "s3:TestEvent"
WAIT_SECONDS = 1  # long polling: asks every SQS server, so an empty answer means an empty queue


@dataclass(frozen=True)
class Message:
    """One SQS message as received: its id, the handle that deletes it, its body."""

    message_id: str
    receipt: str
    body: str


@dataclass(frozen=True)
class Notice:
    """What one message says: the files it announces, how many of its records announce none
    (other events, buckets or prefixes), whether it is S3's test event, or why it is malformed."""

    files: tuple[LandingFile, ...] = ()
    ignored: int = 0
    test_event: bool = False
    reason: str | None = None


def read_notice(body: str, bucket: str, prefix: str) -> Notice:
    """The landing files under ``s3a://bucket/prefix`` that the message ``body`` announces.

    ``body`` is an S3 event (``{"Records": [...]}``), the same inside an SNS envelope
    (``{"Type": "Notification", "Message": "..."}``), or ``s3:TestEvent``. Object keys arrive
    URL-encoded (``+`` for a space) and are decoded. A body that is none of these, or a record
    lacking its bucket, key, size or time, makes the message malformed (``reason``)."""
    doc = _json(body)
    if isinstance(doc, dict) and doc.get("Type") == "Notification":
        doc = _json(doc.get("Message")) if isinstance(doc.get("Message"), str) else None
        if doc is None:
            return Notice(reason="SNS envelope without an S3 event as its Message")
    if doc is None:
        return Notice(reason="message is not JSON")
    if isinstance(doc, dict) and doc.get("Event") == TEST_EVENT:
        return Notice(test_event=True)
    records = doc.get("Records") if isinstance(doc, dict) else None
    if not isinstance(records, list) or not records:
        return Notice(reason="message is not an S3 event notification (no Records list)")
    files, ignored = [], 0
    for index, record in enumerate(records):
        parsed = _record(record, bucket, prefix)
        if isinstance(parsed, str):
            return Notice(reason=f"record {index}: {parsed}")
        if parsed is None:
            ignored += 1
        else:
            files.append(parsed)
    return Notice(tuple(files), ignored)


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None


def _record(record: Any, bucket: str, prefix: str) -> LandingFile | str | None:
    """One event record as a landing file; None when it announces none; a reason when malformed."""
    if not isinstance(record, dict) or not isinstance(record.get("eventName"), str):
        return "no eventName"
    if not record["eventName"].startswith("ObjectCreated:"):
        return None
    s3 = record.get("s3") if isinstance(record.get("s3"), dict) else {}
    name = (s3.get("bucket") or {}).get("name") if isinstance(s3.get("bucket"), dict) else None
    obj = s3.get("object") if isinstance(s3.get("object"), dict) else {}
    key, size, etag = obj.get("key"), obj.get("size"), obj.get("eTag")
    if not isinstance(name, str) or not isinstance(key, str) or not key:
        return "no s3.bucket.name or s3.object.key"
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return "s3.object.size is not a byte count"
    if etag is not None and not isinstance(etag, str):
        return "s3.object.eTag is not text"
    try:
        created = parse_time(str(record.get("eventTime") or ""))
    except DurationError:
        return "eventTime is not an ISO-8601 time"
    key = unquote_plus(key)
    leaf = key.rsplit("/", 1)[-1]
    if name != bucket or not key.startswith(prefix) or not leaf or leaf.startswith((".", "_")):
        return None  # not a landing file of this zone (the listing leaves the same ones out)
    return LandingFile(f"s3a://{name}/{key}", size, created, (etag or "").strip('"') or None)


def receive(client: Any, queue_url: str, limit: int, visibility_seconds: int) -> list[Message]:
    """Up to ``limit`` messages, each hidden from other readers for ``visibility_seconds``."""
    found: dict[str, Message] = {}
    while len(found) < limit:
        answer = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=min(10, limit - len(found)),
            WaitTimeSeconds=WAIT_SECONDS, VisibilityTimeout=visibility_seconds,
        )
        batch = answer.get("Messages", [])
        if not batch:
            break
        for m in batch:  # a message seen twice keeps its newest receipt handle
            found[m["MessageId"]] = Message(m["MessageId"], m["ReceiptHandle"], m.get("Body", ""))
    return list(found.values())


def delete(client: Any, queue_url: str, messages: Iterable[Message]) -> int:
    """Delete ``messages``; return how many SQS deleted. One it refuses comes back later, and
    the manifest makes its files no news."""
    pending, deleted = list(messages), 0
    for start in range(0, len(pending), 10):
        chunk = pending[start:start + 10]
        answer = client.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)])
        failed = answer.get("Failed", [])
        deleted += len(chunk) - len(failed)
        for f in failed:
            log.warning("SQS kept message %s: %s", chunk[int(f["Id"])].message_id,
                        f.get("Message") or f.get("Code"))
    return deleted
