"""The notify step on small Delta tables, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs import lakehouse
from jobs.delivery import ledger
from jobs.delivery.destinations.slack import REPEAT_NOTE
from jobs.delivery.model import Outcome
from jobs.delivery.run import ledger_rows, open_source, plan_destination
from jobs.delivery.settings import parse_destinations
from jobs.runtime.config import ConfigError
from jobs.runtime.delta import Table
from schemas.incidents import INCIDENTS
from tests.support.delivery_fixtures import FAST, incident, notify, write_incidents
from tests.support.fake_http import FakeServer, Fault
from tests.support.fake_pagerduty import FakePagerDuty
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port

A, B, C = "INC-20261120-00000000aa", "INC-20261120-00000000bb", "INC-20261120-00000000cc"
ENV = {"PD_KEY": "R0UT1NGKEY0123456789abcdef012345", "SLACK_URL": "", "HOOK_SECRET": "s3cret"}


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty(ENV["PD_KEY"])
    fake.server.start()
    yield fake
    fake.server.stop()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    fake.server.start()
    yield fake
    fake.server.stop()


def pd_conf(fake: FakePagerDuty, **extra: object) -> dict[str, object]:
    return {"type": "pagerduty", "url": fake.url, "routing_key_env": "PD_KEY", **FAST, **extra}


def test_unknown_type_missing_variable_and_bad_keys_are_one_error_each() -> None:
    with pytest.raises(ConfigError, match=r"destinations\.x\.type 'pagerdoody' is not one of"):
        parse_destinations({"destinations": {"x": {"type": "pagerdoody"}}}, {})
    with pytest.raises(ConfigError, match="names the environment variable NOPE, which is not set"):
        parse_destinations(
            {"destinations": {"pd": {"type": "pagerduty", "routing_key_env": "NOPE"}}}, {})
    with pytest.raises(ConfigError, match=r"destinations\.pd: 'routing_key_env' is a required"):
        parse_destinations({"destinations": {"pd": {"type": "pagerduty"}}}, {})
    with pytest.raises(ConfigError, match=r"destinations\.pd\.min_severity: 'severe' is not one"):
        parse_destinations({"destinations": {"pd": {
            "type": "pagerduty", "routing_key_env": "PD_KEY", "min_severity": "severe"}}}, ENV)
    with pytest.raises(ConfigError, match=r"Additional properties are not allowed \('routing_key'"):
        parse_destinations({"destinations": {"pd": {
            "type": "pagerduty", "routing_key_env": "PD_KEY", "routing_key": "inline"}}}, ENV)
    ok = parse_destinations({"destinations": {"pd": {"type": "pagerduty",
                                                     "routing_key_env": "PD_KEY"}}}, ENV)
    assert ok[0].secrets == {"routing_key": ENV["PD_KEY"]}
    assert ENV["PD_KEY"] not in repr(ok[0])


def test_lifecycle_is_exactly_once_across_reruns(
    spark: SparkSession, tmp_path: Path, pd: FakePagerDuty
) -> None:
    lake = str(tmp_path / "lake")
    env = ENV
    dests = {"pd": pd_conf(pd, min_severity="high")}
    write_incidents(spark, lake, incident(A), incident(B, severity="low"),
                    incident(C, severity="high"))
    first = notify(spark, lake, dests, env)
    assert first.failed == []
    assert [(e["event_action"], e["dedup_key"]) for e in pd.accepted] == [
        ("trigger", A), ("trigger", C)]
    assert pd.accepted[0]["payload"]["severity"] == "critical"
    assert pd.accepted[1]["payload"]["severity"] == "error"

    assert notify(spark, lake, dests, env).failed == []  # nothing changed: nothing sent
    assert len(pd.server.requests) == 2

    write_incidents(spark, lake, incident(A, alerts=5), incident(C, severity="high",
                                                                 status="fixed"))
    notify(spark, lake, dests, env)
    notify(spark, lake, dests, env)
    assert [(e["event_action"], e["dedup_key"]) for e in pd.accepted[2:]] == [
        ("trigger", A), ("resolve", C)]
    assert pd.accepted[2]["payload"]["summary"].startswith(f"UPDATED: [critical] {A}")
    assert pd.alerts == {A: "triggered", C: "resolved"}
    rows = spark.read.format("delta").load(ledger.path(lake)).where("destination = 'pd'")
    sent = sorted((r.object_id, r.action) for r in rows.where("status = 'sent'").collect())
    assert sent == [(A, "trigger"), (A, "update"), (C, "resolve"), (C, "trigger")]


def test_failing_destination_keeps_its_cursor_and_blocks_nothing(
    spark: SparkSession, tmp_path: Path, pd: FakePagerDuty, slack: FakeSlack
) -> None:
    lake = str(tmp_path / "lake")
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    dests = {"chat": {"type": "slack", "url_env": "SLACK_URL", **FAST, "retries": 1},
             "pd": pd_conf(pd)}
    write_incidents(spark, lake, incident(A), incident(B))
    summary = notify(spark, lake, dests, {**ENV, "SLACK_URL": down})
    assert summary.failed == ["chat"]
    assert "FAILED (connection failed" in summary.lines()[0]
    assert [e["dedup_key"] for e in pd.accepted] == [A, B]
    assert ledger.read_cursor(spark, lake, "chat", "gold/incidents") is None
    assert ledger.read_cursor(spark, lake, "pd", "gold/incidents") is not None

    slack.server.faults.extend([Fault("500"), Fault("500"), Fault("500")])  # one run's worth
    assert notify(spark, lake, dests, {**ENV, "SLACK_URL": slack.url}).failed == ["chat"]
    assert notify(spark, lake, dests, {**ENV, "SLACK_URL": slack.url}).failed == []
    assert [m["blocks"][0]["text"]["text"].split()[1] for m in slack.messages] == [A, B]
    assert len(pd.server.requests) == 2
    failed = spark.read.format("delta").load(ledger.path(lake)).where(
        "destination = 'chat' AND status = 'failed'").orderBy("time").collect()
    assert [r.attempt for r in failed] == [1, 2]


def test_retries_honour_retry_after_and_stay_bounded(
    spark: SparkSession, tmp_path: Path, pd: FakePagerDuty
) -> None:
    lake = str(tmp_path / "lake")
    write_incidents(spark, lake, incident(A))
    pd.server.faults.extend([Fault("429", retry_after="1"), Fault("500"), Fault("drop"),
                             Fault("slow", seconds=0.2)])
    assert notify(spark, lake, {"pd": pd_conf(pd)}, ENV).failed == []
    assert len(pd.server.requests) == 4  # 429, 500, dropped, then the slow success
    assert [e["dedup_key"] for e in pd.accepted] == [A]

    write_incidents(spark, lake, incident(B))
    pd.server.faults.extend([Fault("500")] * 10)
    summary = notify(spark, lake, {"pd": pd_conf(pd, retries=2)}, ENV)
    assert summary.failed == ["pd"]
    assert len(pd.server.requests) == 4 + 3  # the first try and two retries, no more
    pd.server.faults.clear()
    # Retry-After longer than the time budget: give up at once rather than overrun it.
    pd.server.faults.append(Fault("429", retry_after="120"))
    assert notify(spark, lake, {"pd": pd_conf(pd, retry_seconds=5)}, ENV).failed == ["pd"]
    assert len(pd.server.requests) == 8


def test_slack_and_terminal_escape_attacker_strings(
    spark: SparkSession, tmp_path: Path, slack: FakeSlack
) -> None:
    lake = str(tmp_path / "lake")
    hostile = "<!channel> <http://evil.example|click me> & \x1b[31mred"
    write_incidents(spark, lake, incident(
        A, title=f"Key {hostile}", principal_arn=f"arn:aws:iam::123456789012:user/{hostile}",
        entities=[{"type": "key_pair", "value": hostile}]))
    summary = notify(spark, lake, {"chat": {"type": "slack", "url_env": "SLACK_URL", **FAST}},
                     {**ENV, "SLACK_URL": slack.url})
    message = slack.messages[0]
    mrkdwn = [message["text"]] + [
        f["text"] for b in message["blocks"] for f in b.get("fields", [])
    ] + [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]
    assert all("<" not in t and ">" not in t and "\x1b" not in t for t in mrkdwn)
    assert any("&lt;!channel&gt; &lt;http://evil.example|click me&gt; &amp;" in t
               for t in mrkdwn)
    assert message["blocks"][0]["text"]["type"] == "plain_text"  # shown literally by Slack
    printed = "\n".join(summary.lines())
    assert "\x1b" not in printed and "[critical] INC-20261120-00000000aa Key" in printed


def test_webhook_is_signed_and_carries_the_delivery_id(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    server = FakeServer(lambda request: (200, {}, b"{}")).start()
    try:
        write_incidents(spark, lake, incident(A, title='quote " and \\ backslash'))
        dests = {"hook": {"type": "webhook", "url": server.url + "/in",
                          "secret_env": "HOOK_SECRET", **FAST}}
        server.faults.append(Fault("drop"))  # the re-send carries the same delivery id
        assert notify(spark, lake, dests, ENV).failed == []
    finally:
        server.stop()
    first, second = server.requests
    assert first.body == second.body
    assert first.headers["x-trailwarden-delivery"] == second.headers["x-trailwarden-delivery"]
    expected = hmac.new(b"s3cret", second.body, hashlib.sha256).hexdigest()
    assert second.headers["x-trailwarden-signature"] == f"sha256={expected}"
    document = json.loads(second.body)
    assert document["delivery_id"] == second.headers["x-trailwarden-delivery"]
    assert document["object_id"] == A and document["action"] == "trigger"
    assert document["details"]["title"] == 'quote " and \\ backslash'


def test_existing_table_without_change_feed_is_altered_and_starts_there(
    spark: SparkSession, tmp_path: Path, pd: FakePagerDuty
) -> None:
    lake = str(tmp_path / "lake")
    path = lakehouse.INCIDENTS.path(lake)
    Table("gold/incidents", INCIDENTS).ensure(spark, lake)  # as before the feed was turned on
    write_incidents(spark, lake, incident(A))
    assert notify(spark, lake, {"pd": pd_conf(pd)}, ENV).failed == []
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").collect()[0]["properties"]
    assert properties["delta.enableChangeDataFeed"] == "true"
    assert [e["dedup_key"] for e in pd.accepted] == [A]  # the table as of the ALTER
    assert ledger.read_cursor(spark, lake, "pd", "gold/incidents") == 2  # create, merge, ALTER
    write_incidents(spark, lake, incident(A, status="resolved"))
    notify(spark, lake, {"pd": pd_conf(pd)}, ENV)
    assert [e["event_action"] for e in pd.accepted] == ["trigger", "resolve"]


def test_test_message_reaches_only_the_named_destination(pd: FakePagerDuty) -> None:
    from jobs.delivery.run import send_test

    dest = parse_destinations({"destinations": {"pd": pd_conf(pd)}}, ENV)[0]
    outcome = send_test({"lakehouse": "/nonexistent"}, dest)
    assert outcome.status == "sent"
    (event,) = pd.accepted
    assert event["payload"]["summary"].startswith("[TEST] trailwarden test message")
    assert event["payload"]["custom_details"] == {"test": True, "destination": "pd"}




def test_rejected_message_lets_the_rest_go_and_is_abandoned_after_its_limit(
    spark: SparkSession, tmp_path: Path, pd: FakePagerDuty
) -> None:
    lake = str(tmp_path / "lake")
    dests = {"pd": pd_conf(pd, reject_limit=2)}
    write_incidents(spark, lake, incident(A), incident(B))
    pd.server.faults.append(Fault("400"))  # A is refused as malformed, B still goes
    first = notify(spark, lake, dests, ENV)
    assert first.failed == ["pd"]
    assert "FAILED (HTTP 400" in first.lines()[0] and "1 kept for the next run" in first.lines()[0]
    assert [e["dedup_key"] for e in pd.accepted] == [B]
    assert ledger.read_cursor(spark, lake, "pd", "gold/incidents") is None

    pd.server.faults.append(Fault("400"))
    assert notify(spark, lake, dests, ENV).failed == ["pd"]  # A alone is tried again: refused
    assert len(pd.server.requests) == 3 and [e["dedup_key"] for e in pd.accepted] == [B]

    third = notify(spark, lake, dests, ENV)  # the limit is reached: recorded, not sent
    assert len(pd.server.requests) == 3
    assert [(o.delivery.object_id, o.status) for o in third.results[0].outcomes] == [
        (A, "abandoned")]
    assert ledger.read_cursor(spark, lake, "pd", "gold/incidents") is not None
    rows = spark.read.format("delta").load(ledger.path(lake)).where(f"object_id = '{A}'")
    assert sorted((r.status, r.attempt) for r in rows.collect()) == [
        ("abandoned", 3), ("rejected", 1), ("rejected", 2)]
    assert notify(spark, lake, dests, ENV).failed == []  # settled: nothing more


def test_slack_records_pending_first_and_marks_a_resend_after_a_crash(
    spark: SparkSession, tmp_path: Path, slack: FakeSlack, pd: FakePagerDuty
) -> None:
    lake = str(tmp_path / "lake")
    dests = {"chat": {"type": "slack", "url_env": "SLACK_URL", **FAST}, "pd": pd_conf(pd)}
    env = {**ENV, "SLACK_URL": slack.url}
    write_incidents(spark, lake, incident(A))
    assert notify(spark, lake, dests, env).failed == []
    rows = spark.read.format("delta").load(ledger.path(lake)).where("action = 'trigger'")
    assert sorted((r.destination, r.status) for r in rows.collect()) == [
        ("chat", "pending"), ("chat", "sent"), ("pd", "sent")]
    assert REPEAT_NOTE not in json.dumps(slack.messages[0])

    # A run that stopped after writing its pending row and before recording the outcome:
    write_incidents(spark, lake, incident(B))
    pending = run_rows_for(spark, lake, "chat", B)
    ledger.append(spark, lake, pending)
    assert notify(spark, lake, dests, env).failed == []
    notes = [e["text"] for e in slack.messages[1]["blocks"][-1]["elements"]]
    assert slack.messages[1]["blocks"][0]["text"]["text"].split()[1] == B
    assert REPEAT_NOTE in notes
    assert [e["dedup_key"] for e in pd.accepted] == [A, B]


def run_rows_for(spark: SparkSession, lake: str, dest: str, object_id: str) -> list[dict]:
    """The ``pending`` ledger rows a run writes for ``object_id`` before sending to ``dest``."""
    conf = {"lakehouse": lake, "destinations": {dest: {"type": "slack", "url_env": "SLACK_URL"}}}
    (destination,) = parse_destinations(conf, {"SLACK_URL": "http://127.0.0.1:9/x"})
    source = open_source(spark, lake, destination.source)
    assert source is not None
    batch = [d for d in plan_destination(spark, lake, destination, source)
             if d.object_id == object_id]
    return ledger_rows([Outcome(d, "pending") for d in batch], None, "crashed",
                       datetime.now(UTC))
