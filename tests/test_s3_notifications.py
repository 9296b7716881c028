"""S3 event notifications read from SQS, on a moto server on 127.0.0.1: a bucket notifying a
queue directly and through an SNS topic, the files a run discovers from the messages, malformed
and duplicate messages, and messages deleted only by ``finish`` (after the run's commit)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs import lakehouse
from jobs.ingest.discover import (
    MESSAGES,
    discover,
    finish,
    full_listing_due,
    last_full_listing,
    quarantine_messages,
)
from jobs.ingest.landing import LandingFile
from jobs.ingest.s3_notifications import read_notice
from jobs.runtime.config import load_config
from tests.support.moto_server import REGION, MotoEndpoint, moto_endpoint

CT = "AWSLogs/1/CloudTrail/us-east-1"
T0 = datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=UTC)


def event(key: str, name: str = "ObjectCreated:Put", bucket: str = "logs", size: Any = 7,
          etag: Any = "abc", when: str = "2026-11-20T10:00:00.123Z") -> dict[str, Any]:
    """One record as AWS documents it (docs.aws.amazon.com/AmazonS3/latest/userguide/
    notification-content-structure.html), key URL-encoded."""
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
            "eventTime": when, "eventName": name,
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "tw",
                   "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                   "object": {"key": key, "size": size, "eTag": etag,
                              "sequencer": "0055AED6DCD90281E5"}}}


def body(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def test_a_notice_names_its_files_and_says_why_it_is_malformed() -> None:
    key = f"org/{CT}/2026/11/20/a+b%3Ac.json.gz"  # "a b:c.json.gz", as S3 encodes it
    notice = read_notice(body(event(key), event(f"org/{CT}/x", "ObjectRemoved:Delete"),
                              event(f"org/{CT}/y", bucket="other"), event("elsewhere/z"),
                              event(f"org/{CT}/2026/11/20/_SUCCESS")), "logs", "org/")
    assert notice.files == (
        LandingFile(f"s3a://logs/org/{CT}/2026/11/20/a b:c.json.gz", 7, T0, "abc"),)
    assert (notice.ignored, notice.test_event, notice.reason) == (4, False, None)
    envelope = json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:t",
                           "Message": body(event(key, etag='"q"'))})
    assert read_notice(envelope, "logs", "org/").files[0].etag == "q"
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent",
                             "Time": "2026-11-20T10:00:00.000Z", "Bucket": "logs"})
    assert read_notice(test_event, "logs", "").test_event
    malformed = {
        "not json {": "message is not JSON",
        json.dumps({"Type": "Notification", "Message": 5}):
            "SNS envelope without an S3 event as its Message",
        json.dumps({"Records": []}): "message is not an S3 event notification (no Records list)",
        json.dumps([1]): "message is not an S3 event notification (no Records list)",
        body(event(key), {"eventName": 3}): "record 1: no eventName",
        body(event("")): "record 0: no s3.bucket.name or s3.object.key",
        body(event(key, size="7")): "record 0: s3.object.size is not a byte count",
        body(event(key, size=True)): "record 0: s3.object.size is not a byte count",
        body(event(key, size=-1)): "record 0: s3.object.size is not a byte count",
        body(event(key, etag=["x"])): "record 0: s3.object.eTag is not text",
        body(event(key, when="yesterday")): "record 0: eventTime is not an ISO-8601 time",
        "[" * 100_000: "message is not JSON",
    }
    assert {text: read_notice(text, "logs", "org/").reason for text in malformed} == malformed
    assert all(read_notice(text, "logs", "org/").files == () for text in malformed)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    yield from moto_endpoint()


@pytest.fixture
def notified(moto: MotoEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Bucket ``logs`` notifying one queue of ObjectCreated under ``org/AWSLogs/1/`` directly
    and under ``org/AWSLogs/2/`` through an SNS topic; nothing sent yet but S3's test events."""
    moto.point_here(monkeypatch)
    s3, sqs, sns = moto.client("s3"), moto.client("sqs"), moto.client("sns")
    s3.create_bucket(Bucket="logs")
    queue = sqs.create_queue(QueueName="landing-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="landing-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def rule(prefix: str) -> dict[str, Any]:
        return {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}

    s3.put_bucket_notification_configuration(Bucket="logs", NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": rule("org/AWSLogs/1/")}],
        "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": rule("org/AWSLogs/2/")}],
    })
    conf = load_config("test", [
        "landing=s3a://logs/org", f"s3.endpoint={moto.url}", "s3.path_style_access=true",
        f"s3.notifications.queue_url={queue}", "s3.notifications.visibility_timeout=2",
    ])
    yield {"s3": s3, "sqs": sqs, "queue": queue, "conf": conf}
    sqs.delete_queue(QueueUrl=queue)
    for obj in s3.list_objects_v2(Bucket="logs").get("Contents", []):
        s3.delete_object(Bucket="logs", Key=obj["Key"])
    s3.delete_bucket(Bucket="logs")


def waiting(sqs: Any, queue: str) -> tuple[int, int]:
    """(visible, in flight) messages of ``queue``."""
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attrs["ApproximateNumberOfMessages"]),
            int(attrs["ApproximateNumberOfMessagesNotVisible"]))


def test_messages_name_the_files_and_are_deleted_only_after_the_commit(
    notified: dict[str, Any], spark: SparkSession, tmp_path: Path
) -> None:
    s3, sqs, queue = notified["s3"], notified["sqs"], notified["queue"]
    keys = {  # key -> body
        f"org/{CT}/2026/11/20/new file.json.gz": b"1",  # a space: '+' in the event
        f"org/{CT}/2025/01/02/backfill.json.gz": b"22",  # a day long before the watermark
        "org/AWSLogs/2/vpcflowlogs/eu-west-1/2026/11/20/flows.log.gz": b"333",  # through SNS
        "org/AWSLogs/1/README.txt": b"4444",  # unrecognised: ingest quarantines it
        f"org/{CT}/2026/11/20/.hidden": b"5",  # left out, as the listing leaves it out
        "org/elsewhere/ignored.json": b"6",  # no notification configured for it
    }
    for key, data in keys.items():
        s3.put_object(Bucket="logs", Key=key, Body=data)
    again = f"org/{CT}/2026/11/20/new file.json.gz"
    s3.put_object(Bucket="logs", Key=again, Body=b"1")  # the same content: a second message
    sqs.send_message(QueueUrl=queue, MessageBody="not json {")
    conf = notified["conf"]
    recent = datetime.now(UTC) - timedelta(hours=1)  # a full listing is not due

    found = discover(conf, {}, recent, datetime.now(UTC))

    heads = {k: s3.head_object(Bucket="logs", Key=k) for k in keys}
    expected = sorted([again, f"org/{CT}/2025/01/02/backfill.json.gz",
                       "org/AWSLogs/2/vpcflowlogs/eu-west-1/2026/11/20/flows.log.gz",
                       "org/AWSLogs/1/README.txt"])
    assert [(f.path, f.size, f.etag) for f in found.files] == [
        (f"s3a://logs/{k}", len(keys[k]), heads[k]["ETag"].strip('"')) for k in expected]
    # 5 object messages (the hidden file's too), the re-put, 2 test events (queue and topic),
    # the malformed one
    assert (found.mode, found.full_listing, len(found.messages)) == ("notifications", False, 9)
    assert (found.test_events, found.ignored) == (2, 1)
    assert list(found.malformed.values()) == ["message is not JSON"]
    assert waiting(sqs, queue) == (0, 9)

    # The run dies before its commit: the messages come back and name the same files.
    time.sleep(2.5)
    again_found = discover(conf, {}, recent, datetime.now(UTC))
    assert [f.path for f in again_found.files] == [f.path for f in found.files]
    assert len(again_found.messages) == 9

    lake = str(tmp_path / "lake")
    lakehouse.QUARANTINE.ensure(spark, lake)
    conf = {**conf, "lakehouse": lake}
    assert quarantine_messages(spark, lake, again_found, queue, 10, "r1", T0) == 1
    rows = lakehouse.QUARANTINE.read(spark, lake).collect()
    assert [(r.source, r.source_file, r.reason, r.raw) for r in rows] == [
        (MESSAGES, f"{queue}#{next(iter(found.malformed))}", "message is not JSON", "not json {")]
    finish(spark, conf, again_found, "r1", T0 + timedelta(minutes=1))
    assert waiting(sqs, queue) == (0, 0)
    (run,) = lakehouse.DISCOVERY_RUNS.read(spark, lake).collect()
    assert run.asDict() == {
        "run_id": "r1", "landing": "s3a://logs/org", "mode": "notifications",
        "full_listing": False, "files_found": 4, "messages": 9, "messages_malformed": 1,
        "test_events": 2, "records_ignored": 1, "messages_deleted": 9,
        "started_at": again_found.started_at.replace(tzinfo=None),
        "finished_at": (T0 + timedelta(minutes=1)).replace(tzinfo=None)}
    assert last_full_listing(spark, lake, "s3a://logs/org") is None  # no full listing yet


def test_a_due_full_listing_adds_what_no_message_announced(notified: dict[str, Any]) -> None:
    s3, sqs, queue = notified["s3"], notified["sqs"], notified["queue"]
    sqs.purge_queue(QueueUrl=queue)  # the test events
    s3.put_object(Bucket="logs", Key="org/elsewhere/lost.json", Body=b"x")  # no notification
    s3.put_object(Bucket="logs", Key=f"org/{CT}/2026/11/20/b.json.gz", Body=b"y")
    s3.put_object(Bucket="logs", Key=f"org/{CT}/2026/11/20/b.json.gz", Body=b"yy")  # overwritten
    now = datetime.now(UTC)
    found = discover(notified["conf"], {}, now - timedelta(days=1, seconds=1), now)
    assert found.full_listing and len(found.messages) == 2
    assert [(f.path, f.size) for f in found.files] == [
        (f"s3a://logs/org/{CT}/2026/11/20/b.json.gz", 2),  # the newest version once
        ("s3a://logs/org/elsewhere/lost.json", 1)]


def test_when_a_full_listing_is_due() -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    s3 = {"full_listing_every": "24h", "incremental_listing": True}
    assert full_listing_due(s3, None, now)
    assert not full_listing_due(s3, now - timedelta(hours=23, minutes=59), now)
    assert full_listing_due(s3, now - timedelta(hours=24), now)
    assert full_listing_due({**s3, "incremental_listing": False}, now, now)
