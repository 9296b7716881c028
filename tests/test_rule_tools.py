"""The ATT&CK Navigator layer and the ``rules`` table (plain Python, no Spark)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from jobs import lakehouse
from jobs.commands.alerts import alert_lines
from jobs.commands.detect import parse_args as detect_args
from jobs.commands.rules import lines, rule_rows
from jobs.detect.catalog import load_catalog
from jobs.detect.navigator import LAYER, layer, main, render
from jobs.main import WITHOUT_SPARK, needs_spark
from jobs.runtime import delta_reader

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_the_navigator_layer_is_current_and_in_layer_format_4_5() -> None:
    assert main(["--check"]) == 0, "run python -m jobs.detect.navigator"
    doc = json.loads(LAYER.read_text())
    assert doc["versions"] == {"attack": "16", "navigator": "5.1.0", "layer": "4.5"}
    assert doc["domain"] == "enterprise-attack"
    scored = {(t["techniqueID"], t["tactic"]): t for t in doc["techniques"] if "score" in t}
    # T1496.001 (resource hijacking: compute) under impact: the mining detections.
    mining = scored[("T1496.001", "impact")]
    assert {m["value"] for m in mining["metadata"]} >= {
        "run_instances_burst",
        "expensive_instances_launched",
        "mining_pool_traffic",
    }
    assert mining["score"] == len(mining["metadata"])
    parents = {(t["techniqueID"], t["tactic"]) for t in doc["techniques"] if t["showSubtechniques"]}
    assert ("T1496", "impact") in parents
    assert render() == LAYER.read_text()


def test_a_disabled_detection_leaves_the_layer() -> None:
    catalog = load_catalog()
    only = [d for d in catalog if d.name == "bedrock_model_access_enabled"]
    assert [
        t["techniqueID"] for t in layer(only, {"bedrock_model_access_enabled"})["techniques"]
    ] == ["T1496.004", "T1496"]
    assert layer(only, set())["techniques"] == []


def health(
    name: str, days_ago: float, error: str | None = None, mode: str = "live"
) -> dict[str, object]:
    ids = {d.name: d.id for d in load_catalog()}
    return {
        "detection_id": ids[name],
        "detection_name": name,
        "mode": mode,
        "error": error,
        "evaluated_at": NOW - timedelta(days=days_ago),
    }


def alert(name: str, days_ago: float, status: str = "open") -> dict[str, object]:
    ids = {d.name: d.id for d in load_catalog()}
    return {
        "detection_id": ids[name],
        "status": status,
        "created_at": NOW - timedelta(days=days_ago),
    }


def test_rules_rows_rates_shares_and_errors() -> None:
    catalog = load_catalog()
    names = [d.name for d in catalog if d.name != "root_console_login"]
    runs = [
        health("key_pair_imported", 2),
        health("key_pair_imported", 1, "boom"),
        health("key_pair_imported", 0.5),
        health("logging_tampering", 0.1, mode="dry_run"),
    ]
    alerts = [
        alert("key_pair_imported", 1),
        alert("key_pair_imported", 3, "suppressed"),
        *[alert("key_pair_imported", 20) for _ in range(13)],
        alert("logging_tampering", 40),
    ]
    rows = {r["detection_name"]: r for r in rule_rows(catalog, names, runs, alerts, NOW)}
    key = rows["key_pair_imported"]
    assert (key["alerts_per_day_7d"], key["alerts_per_day_30d"], key["suppressed_share"]) == (
        0.29,
        0.5,
        0.07,
    )
    assert (key["last_run"], key["last_error"], key["never_fired"]) == (
        NOW - timedelta(days=0.5),
        "boom",
        False,
    )
    tampering = rows["logging_tampering"]
    assert (tampering["mode"], tampering["alerts_per_day_30d"], tampering["suppressed_share"]) == (
        "dry_run",
        0,
        None,
    )
    assert (
        rows["mining_pool_traffic"]["never_fired"]
        and rows["mining_pool_traffic"]["last_run"] is None
    )
    table = lines(list(rows.values()))
    assert next(x for x in table if x.startswith("root_console_login ")).endswith(
        "disabled; never fired"
    )
    assert "last error 2026-11-30 12:00: boom" in next(
        x for x in table if x.startswith("key_pair_imported ")
    )


def test_rules_runs_without_spark_and_reads_the_health_table() -> None:
    assert "rules" in WITHOUT_SPARK and not needs_spark(["rules"])
    assert delta_reader.DETECTION_HEALTH == lakehouse.DETECTION_HEALTH.name


def test_the_alerts_command_tags_suppressed_and_dry_run_alerts() -> None:
    row = {
        "severity": "high",
        "alert_time": NOW,
        "detection_id": "TW-CT-004",
        "title": "t",
        "alert_id": "a1",
        "event_count": 2,
        "entities": [],
        "status": "suppressed",
        "exception_id": "ci-keys",
    }
    assert alert_lines(row)[1].endswith("events    [suppressed by ci-keys]")
    assert alert_lines({**row, "status": "dry_run"})[1].endswith("  [dry run]")
    assert alert_lines({**row, "status": "open"})[1].endswith("2 events  ")


def test_detect_and_pipeline_options() -> None:
    args = detect_args(
        [
            "--backtest",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
            "--detections",
            "a",
            "TW-CT-004",
            "--exceptions",
            "x.yml",
        ]
    )
    assert (args.backtest, args.detections, args.exceptions) == (True, ["a", "TW-CT-004"], "x.yml")
    for bad in (
        ["--backtest", "--from", "2026-11-01"],
        ["--detections", "a"],
        ["--backtest", "--from", "a", "--to", "b", "--detection", "x"],
    ):
        with pytest.raises(SystemExit):
            detect_args(bad)
