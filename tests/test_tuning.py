"""Suppression windows, dry-run and exception statuses on real Delta tables; suppressed and
dry-run alerts never reach incidents or delivery; older alert tables gain the new columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.alerts.store import changes, merge_alerts
from jobs.delivery.feed import read_states
from jobs.detect.exceptions import ExceptionEntry, Pattern
from jobs.detect.tuning import Tuning, tune
from jobs.incidents.evidence import recent_alerts
from jobs.lakehouse import ALERTS
from jobs.runtime.frames import local_frame
from schemas.alerts import ALERTS as ALERTS_SCHEMA

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROLE = "arn:aws:iam::111122223333:role/ci-deploy"


def alert(
    window: int,
    events: int,
    *,
    detection: str = "TW-CT-004",
    key: str = "k1",
    severity: str = "medium",
    principal: str = ROLE,
) -> dict[str, Any]:
    """A gold/alerts row of ``detection`` for dedupe key ``key`` in window ``T0 + window hours``."""
    start = T0 + window * HOUR
    return {
        "alert_id": f"{detection}-{key}-{window}",
        "detection_id": detection,
        "detection_name": {"TW-CT-004": "key_pair_imported"}.get(detection, "root_access_key_used"),
        "title": f"alert {key}",
        "severity": severity,
        "mitre_techniques": ["T1098.004"],
        "mitre_tactics": ["TA0003"],
        "window_start": start,
        "first_seen": start + timedelta(minutes=5),
        "last_seen": start + timedelta(minutes=50),
        "alert_time": start + timedelta(minutes=5),
        "created_at": T0,
        "updated_at": T0,
        "event_count": events,
        "account_id": "111122223333",
        "region": "eu-west-1",
        "principal_arn": principal,
        "access_key_id": None,
        "source_ips": [f"203.0.113.{window}"],
        "entities": [{"type": "key_pair", "value": f"key-{window}"}],
        "evidence": [
            {"id": f"ev-{window}-{i}", "source_file": "f.json.gz", "record_index": i}
            for i in range(events)
        ],
        "status": "open",
        "run_id": "r",
        "fingerprint": f"fp-{window}-{events}",
        "exception_id": None,
        "dedupe_key": f"{detection}|{key}",
        "window_counts": {start: events},
    }


def run(
    spark: SparkSession, lake: str, rows: list[dict[str, Any]], tuning: Tuning, run_id: str
) -> None:
    """What a detect run does with its alerts: tune, compare, MERGE."""
    table = ALERTS.ensure(spark, lake)
    now = T0 + timedelta(days=1)
    alerts = tune(
        spark, local_frame(spark, rows, ALERTS_SCHEMA), table.toDF(), tuning, None, now, run_id
    )
    merge_alerts(table, changes(table.toDF(), alerts))


def test_suppression_across_three_windows_gives_one_alert_with_its_count(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    tuning = Tuning(suppress_for={"TW-CT-004": timedelta(hours=24)})
    for window, events in ((0, 2), (1, 3), (5, 4)):  # three runs, one window each
        run(spark, lake, [alert(window, events)], tuning, f"run-{window}")
    run(spark, lake, [alert(1, 3)], tuning, "rerun")  # window 1 evaluated again: not counted twice
    run(spark, lake, [alert(30, 1), alert(31, 1, key="k2")], tuning, "next-day")
    rows = {r["alert_id"]: r for r in ALERTS.read(spark, lake).collect()}
    assert sorted(rows) == ["TW-CT-004-k1-0", "TW-CT-004-k1-30", "TW-CT-004-k2-31"]
    first = rows["TW-CT-004-k1-0"]
    assert first["event_count"] == 9
    assert first["first_seen"] == (T0 + timedelta(minutes=5)).replace(tzinfo=None)
    assert first["last_seen"] == (T0 + 5 * HOUR + timedelta(minutes=50)).replace(tzinfo=None)
    assert {k.replace(tzinfo=UTC): v for k, v in first["window_counts"].items()} == {
        T0: 2,
        T0 + HOUR: 3,
        T0 + 5 * HOUR: 4,
    }
    assert len(first["evidence"]) == 9
    assert first["source_ips"] == ["203.0.113.0", "203.0.113.1", "203.0.113.5"]
    assert rows["TW-CT-004-k1-30"]["event_count"] == 1  # 30 hours later: a new alert


def test_without_suppress_for_every_window_is_an_alert(spark: SparkSession, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    for window in (0, 1, 2):
        run(spark, lake, [alert(window, 1)], Tuning(), f"run-{window}")
    assert ALERTS.read(spark, lake).count() == 3


def test_dry_run_and_exception_statuses(spark: SparkSession, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    ci = ExceptionEntry(
        "ci-keys",
        frozenset({"key_pair_imported"}),
        (("principal_arn", (Pattern("glob", "arn:aws:iam::*:role/ci-*"),)),),
        "CI imports keys",
        "platform",
        T0 + timedelta(days=90),
    )
    tuning = Tuning(exceptions=(ci,), modes={"TW-CT-004": "live", "TW-CT-001": "dry_run"})
    rows = [
        alert(0, 1),
        alert(0, 1, key="k2", principal="arn:aws:iam::111122223333:user/alice"),
        alert(0, 1, detection="TW-CT-001"),
    ]
    run(spark, lake, rows, tuning, "run-1")
    got = {
        r["alert_id"]: (r["status"], r["exception_id"]) for r in ALERTS.read(spark, lake).collect()
    }
    assert got == {
        "TW-CT-004-k1-0": ("suppressed", "ci-keys"),
        "TW-CT-004-k2-0": ("open", None),
        "TW-CT-001-k1-0": ("dry_run", None),
    }


def test_suppressed_and_dry_run_alerts_never_reach_incidents_or_delivery(
    spark: SparkSession, tmp_path: Path
) -> None:
    lake = str(tmp_path / "lake")
    rows = [alert(0, 1), alert(0, 1, key="k2"), alert(0, 1, key="k3")]
    rows[1].update(status="suppressed", exception_id="ci-keys")
    rows[2]["status"] = "dry_run"
    table = ALERTS.ensure(spark, lake)
    merge_alerts(table, changes(table.toDF(), local_frame(spark, rows, ALERTS_SCHEMA)))
    grouped = recent_alerts(ALERTS.read(spark, lake), timedelta(days=7), ["TW-CT-004-k2-0"])
    assert [a.alert_id for a in grouped] == ["TW-CT-004-k1-0"]
    states = read_states(spark, ALERTS.path(lake), ALERTS.name, 0, 1, snapshot=True)
    assert [s["object_id"] for s in states] == ["TW-CT-004-k1-0"]


def test_an_older_alert_table_gains_the_new_columns(spark: SparkSession, tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    old_fields = [
        f
        for f in ALERTS_SCHEMA.fields
        if f.name not in ("exception_id", "dedupe_key", "window_counts")
    ]
    old = alert(0, 1)
    local_frame(
        spark, [{f.name: old[f.name] for f in old_fields}], ALERTS_SCHEMA.__class__(old_fields)
    ).write.format("delta").save(ALERTS.path(lake))
    run(spark, lake, [alert(1, 2)], Tuning(), "after-upgrade")
    rows = {r["alert_id"]: r for r in ALERTS.read(spark, lake).collect()}
    assert set(rows) == {"TW-CT-004-k1-0", "TW-CT-004-k1-1"}
    assert rows["TW-CT-004-k1-0"]["dedupe_key"] is None
    assert rows["TW-CT-004-k1-1"]["dedupe_key"] == "TW-CT-004|k1"
