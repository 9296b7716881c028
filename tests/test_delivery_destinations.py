"""The ocsf and sns destinations on plain deliveries (no Spark): OCSF records validated against
the OCSF models, SNS through a moto server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from jobs.delivery.context import Context
from jobs.delivery.destinations import ocsf, sns
from jobs.delivery.lifecycle import delivery_id
from jobs.delivery.model import Delivery
from jobs.delivery.settings import parse_destinations
from tests.support.delivery_fixtures import ACCOUNT, incident
from tests.support.moto_server import MotoEndpoint, moto_endpoint

A = "INC-20261120-00000000aa"
FEED = {"source_ips": ["167.99.54.10"], "user_agents": ["aws-sdk-go/1.44 <script>"]}


def deliveries() -> list[Delivery]:
    trigger = {**incident(A), **FEED, "object_id": A}
    resolved = {**incident(A, status="fixed"), **FEED, "object_id": A}
    return [
        Delivery("lake", "gold/incidents", A, action, delivery_id("lake", "gold/incidents", A,
                 action, "critical", 3), version, "critical", 3, 1, doc)
        for action, version, doc in (("trigger", 1, trigger), ("resolve", 2, resolved))
    ]


def _validated(record: dict) -> None:
    """The record is a valid Detection Finding, and the models keep every field it has."""
    model = DetectionFinding.model_validate(record)
    assert json.loads(model.model_dump_json(exclude_none=True)) == json.loads(json.dumps(record))


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ocsf_records_are_detection_findings_in_the_security_lake_layout(
    tmp_path: Path, fmt: str
) -> None:
    conf = {"lakehouse": str(tmp_path / "lake"),
            "destinations": {"lake": {"type": "ocsf", "path": str(tmp_path / "ext" / "tw"),
                                      "format": fmt, "region": "eu-west-1"}}}
    dest = parse_destinations(conf, {})[0]
    batch = deliveries()
    outcomes = ocsf.deliver(dest, batch, Context(conf))
    assert [o.status for o in outcomes] == ["sent", "sent"]
    (written,) = sorted((tmp_path / "ext" / "tw").rglob(f"*.{fmt}"))
    assert written.parent.relative_to(tmp_path / "ext" / "tw").as_posix() == (
        f"region=eu-west-1/accountId={ACCOUNT}/eventDay=20261120")
    records = ([json.loads(line) for line in written.read_text().splitlines()] if fmt == "jsonl"
               else pq.read_table(written).to_pylist())
    if fmt == "parquet":  # Parquet fills absent struct fields with nulls
        records = [json.loads(json.dumps(r), object_hook=lambda d: {
            k: v for k, v in d.items() if v is not None}) for r in records]
    assert [(r["class_uid"], r["activity_id"], r["type_uid"], r["status_id"]) for r in records] == [
        (2004, 1, 200401, 1), (2004, 3, 200403, 4)]
    assert [r["metadata"]["uid"] for r in records] == [d.delivery_id for d in batch]
    assert records[0]["finding_info"]["uid"] == A and records[0]["severity_id"] == 5
    assert records[0]["cloud"]["account"]["uid"] == ACCOUNT
    for record in records:
        _validated(record)
    # A rerun of the same batch rewrites the same file instead of adding a copy.
    ocsf.deliver(dest, batch, Context(conf))
    assert sorted((tmp_path / "ext" / "tw").rglob(f"*.{fmt}")) == [written]


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    yield from moto_endpoint()


def test_sns_publishes_with_filter_attributes(
    moto: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in moto.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    client, queues = moto.client("sns"), moto.client("sqs")
    topic = client.create_topic(Name="trailwarden-alerts")["TopicArn"]
    queue = queues.create_queue(QueueName="soc")["QueueUrl"]
    queue_arn = queues.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                     Attributes={"RawMessageDelivery": "true"})
    conf = {"lakehouse": "/lake", "destinations": {"topic": {"type": "sns", "topic_arn": topic}}}
    dest = parse_destinations(conf, {})[0]
    batch = deliveries()
    assert [o.status for o in sns.deliver(dest, batch, Context(conf))] == ["sent", "sent"]
    received = queues.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"])["Messages"]
    bodies = sorted((json.loads(m["Body"]) for m in received), key=lambda b: b["table_version"])
    assert [(b["action"], b["object_id"]) for b in bodies] == [("trigger", A), ("resolve", A)]
    attributes = {m["MessageAttributes"]["action"]["StringValue"]: m["MessageAttributes"]
                  for m in received}
    assert {k: v["StringValue"] for k, v in attributes["trigger"].items()} == {
        "severity": "critical", "detection": "root_access_key_used", "account": ACCOUNT,
        "action": "trigger", "delivery_id": batch[0].delivery_id}


def test_sns_error_is_one_failure_without_retrying_forever(
    moto: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in moto.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    missing = f"arn:aws:sns:us-east-1:{'1' * 12}:no-such-topic"
    conf = {"lakehouse": "/lake", "destinations": {"t": {"type": "sns", "topic_arn": missing}}}
    outcomes = sns.deliver(parse_destinations(conf, {})[0], deliveries(), Context(conf))
    assert [o.status for o in outcomes] == ["failed"]
    assert outcomes[0].error.startswith("SNS NotFound")
