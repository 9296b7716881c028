"""``alerts`` and ``incidents list|show`` on small Delta tables that Spark writes with the
production contracts, read back without Spark (delta-rs), locally and from a moto S3 server;
control characters in log-derived values reach the terminal only as visible escapes; and the
terminal commands and every --help run through spark-submit.sh without starting Java."""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs import lakehouse
from jobs.main import main as dispatch
from jobs.runtime import delta_reader
from jobs.runtime.delta import Table
from jobs.runtime.frames import local_frame
from schemas.alerts import ALERTS
from schemas.incidents import INCIDENTS
from tests.support.incident_fixtures import ACCOUNT, INSTANCES, KEY, OTHER_KEY, ROOT, T0, alert, at
from tests.support.moto_server import moto_endpoint, upload_tree

ROOT_DIR = Path(__file__).resolve().parents[1]
EVIL_TITLE = (
    "Root key used \x1b[2J\x1b]0;pwned\x07 from 167.99.54.10\r\nCRITICAL forged\u202egnp.exe"
)
EVIL_PRINCIPAL = f"{ROOT}\x1b[31m\x9b1m"
INC_ROOT = "INC-20261120-0123456789"
INC_DEV = "INC-20261120-abcdef0123"


def alert_rows(now: datetime) -> list[dict[str, Any]]:
    """Three alerts: a hostile root-key alert (high), mining with 7 entities (critical), and a
    medium one updated ten minutes ago (the others were updated on 2026-11-20)."""
    root = alert("a-root", "root_access_key_used", T0, key=KEY, principal=EVIL_PRINCIPAL,
                 entities=[("access_key", KEY), ("user", EVIL_PRINCIPAL)])
    mining = alert("a-mining", "mining_pool_traffic", at(8), severity="critical",
                   entities=[("instance", f"i-{n}") for n in range(7)])
    other = alert("a-other", "new_sdk_for_principal", at(6), severity="medium", key=OTHER_KEY,
                  entities=[("access_key", OTHER_KEY)])
    return [
        root | {"title": EVIL_TITLE},
        mining | {"title": f"Mining-pool traffic from {INSTANCES[0]}"},
        other | {"title": "New SDK for dev", "updated_at": now - timedelta(minutes=10)},
    ]


def incident(incident_id: str, title: str, severity: str, status: str, alert_time: datetime,
             done: int, total: int) -> dict[str, Any]:
    """A ``gold/incidents`` row with every required column."""
    return {
        "incident_id": incident_id, "status": status, "severity": severity, "title": title,
        "principal_arn": EVIL_PRINCIPAL, "access_key_id": KEY, "account_id": ACCOUNT,
        "started_at": alert_time, "alert_time": alert_time, "detected_at": alert_time,
        "last_seen": alert_time, "window_end": alert_time + timedelta(hours=6),
        "alert_ids": ["a-root"], "alert_count": 1, "detection_names": ["root_access_key_used"],
        "entities": [{"type": "access_key", "value": KEY}], "mitre_tactics": ["TA0001"],
        "mitre_techniques": ["T1078.004"], "activity": [],
        "scope": {"accounts": [ACCOUNT], "regions": ["us-east-1"], "principals": [EVIL_PRINCIPAL]},
        "remediation": [], "actions_total": total, "actions_done": done, "timeline": [],
        "created_at": alert_time, "updated_at": alert_time, "run_id": "r1",
    }


INCIDENT_ROWS = [
    incident(INC_ROOT, "Root key \x1b[2J used\u202e", "critical", "fixed", T0, 3, 3),
    incident(INC_DEV, "Dev key used", "medium", "open", at(6), 0, 2),
]


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A lakehouse with gold/alerts and gold/incidents, created with their contracts by Spark.

    gold/incidents as a long-lived one looks: a checkpoint (every 2nd commit here), then an
    UPDATE (an acknowledgement) in the JSON log after it."""
    root = str(tmp_path_factory.mktemp("terminal-lake"))
    alerts_path = lakehouse.ALERTS.path(root)
    lakehouse.ALERTS.ensure(spark, root)
    append(spark, alerts_path, ALERTS, alert_rows(datetime.now(UTC)))
    incidents_path = lakehouse.INCIDENTS.path(root)
    checkpointed = Table(lakehouse.INCIDENTS.name, INCIDENTS,
                         properties={"delta.checkpointInterval": "2"})
    table = checkpointed.ensure(spark, root)
    for row in INCIDENT_ROWS:
        append(spark, incidents_path, INCIDENTS, [row])
    table.update(F.col("incident_id") == INC_DEV, {"acknowledged_by": F.lit("alice")})
    return root


def append(spark: SparkSession, path: str, schema: StructType, rows: list[dict[str, Any]]) -> None:
    local_frame(spark, rows, schema).write.format("delta").mode("append").save(path)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    """``spark-submit.sh <argv>`` in this process: exit code, stdout lines, stderr."""
    code = dispatch(argv)
    out, err = capsys.readouterr()
    return code, out.split("\n"), err


def no_raw_controls(lines: list[str]) -> bool:
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for x in lines for c in x)


ALL_ALERTS = [
    "CRITICAL 2026-11-20 14:10:00  TW-mining_pool_traffic  Mining-pool traffic from "
    "i-0aaaaaaaaaaaaaaa1",
    "         a-mining  1 events  instance:i-0, instance:i-1, instance:i-2, instance:i-3, "
    "instance:i-4, instance:i-5 (+1)",
    "HIGH     2026-11-20 13:42:17  TW-root_access_key_used  Root key used \\x1b[2J\\x1b]0;pwned"
    "\\x07 from 167.99.54.10\\x0d\\x0aCRITICAL forged\\u202egnp.exe",
    "         a-root  1 events  access_key:AKIAAAAABBBBCCCCDDDD, "
    "user:arn:aws:iam::123456789012:root\\x1b[31m\\x9b1m",
    "MEDIUM   2026-11-20 14:08:00  TW-new_sdk_for_principal  New SDK for dev",
    "         a-other  1 events  access_key:AKIAZZZZYYYYXXXXWWWW",
    "3 alerts (severity >= low, since all)",
    "",
]


def test_table_names_agree_with_the_spark_side() -> None:
    assert (delta_reader.ALERTS, delta_reader.INCIDENTS) == (
        lakehouse.ALERTS.name, lakehouse.INCIDENTS.name)
    assert delta_reader.table_uri("s3a://b/p/", delta_reader.ALERTS) == lakehouse.ALERTS.path(
        "s3a://b/p/")


def test_alerts_lists_every_alert_with_control_characters_escaped(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(["alerts", "--lakehouse", lake, "--since", "all"], capsys)
    assert code == 0
    assert lines == ALL_ALERTS
    assert no_raw_controls(lines)


def test_alerts_filters_by_since_severity_detection_and_limit(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["alerts", "--lakehouse", lake]
    assert run(base + ["--since", "1h"], capsys)[1] == ALL_ALERTS[4:6] + [
        "1 alerts (severity >= low, since 1h)", ""
    ]
    assert run(base + ["--since", "all", "--severity", "high"], capsys)[1][-2] == (
        "2 alerts (severity >= high, since all)"
    )
    assert run(base + ["--since", "all", "--detection", "TW-root_access_key_used"],
               capsys)[1][:2] == ALL_ALERTS[2:4]
    assert run(base + ["--since", "all", "--detection", "mining_pool_traffic"],
               capsys)[1][:2] == ALL_ALERTS[0:2]
    assert run(base + ["--since", "all", "--limit", "1"], capsys)[1][-2] == (
        "1 alerts (severity >= low, since all)"
    )


def test_alerts_json_is_one_inert_object_per_line_with_utc_times(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(["alerts", "--lakehouse", lake, "--since", "all", "--json"], capsys)
    rows = [json.loads(line) for line in lines[:-1]]
    assert code == 0 and lines[-1] == "" and no_raw_controls(lines)
    assert [r["alert_id"] for r in rows] == ["a-mining", "a-root", "a-other"]
    assert rows[1]["title"] == EVIL_TITLE and rows[1]["principal_arn"] == EVIL_PRINCIPAL
    assert (rows[1]["alert_time"], rows[1]["entities"][0]) == (
        "2026-11-20T13:42:17+00:00", {"type": "access_key", "value": KEY}
    )


def test_alerts_without_a_table_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = run(["alerts", "--lakehouse", str(tmp_path)], capsys)
    assert (code, lines) == (1, [""])
    assert err == (f"trailwarden alerts: no alert table at {tmp_path}/gold/alerts; "
                   "run the pipeline first.\n")


def test_incidents_list_newest_first_with_status_filter(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "INCIDENT                 SEVERITY  STATUS        ALERT (UTC)          FIX       TITLE"
    dev = ("INC-20261120-abcdef0123  medium    open          2026-11-20 14:08:00  0/2       "
           "Dev key used")
    root = ("INC-20261120-0123456789  critical  fixed         2026-11-20 13:42:17  3/3       "
            "Root key \\x1b[2J used\\u202e")
    assert run(["incidents", "list", "--lakehouse", lake], capsys) == (
        0, [header, dev, root, ""], ""
    )
    assert run(["incidents", "list", "--status", "fixed", "--lakehouse", lake], capsys)[1] == [
        header, root, ""
    ]


def test_incidents_list_before_any_incident_is_the_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(["incidents", "list", "--lakehouse", str(tmp_path)], capsys)
    assert (code, len(lines), lines[0].split()[:2]) == (0, 2, ["INCIDENT", "SEVERITY"])


def test_incidents_show_renders_the_markdown_report_inert(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(["incidents", "show", INC_ROOT, "--lakehouse", lake], capsys)
    assert code == 0 and no_raw_controls(lines)
    assert lines[0] == "# Root key \\x1b\\[2J used\\u202e"
    assert "| Status | fixed |" in lines and "| First alert | 2026-11-20 13:42:17 UTC |" in lines
    assert "| Principal | arn:aws:iam::123456789012:root\\x1b\\[31m\\x9b1m |" in lines
    assert lines[-2:] == ["", ""]  # the report's final newline, then print's


def test_incidents_show_json_round_trips_the_row(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = run(["incidents", "show", INC_DEV, "--json", "--lakehouse", lake], capsys)
    row = json.loads("\n".join(lines))
    assert code == 0 and no_raw_controls(lines)
    assert (row["incident_id"], row["principal_arn"], row["alert_time"]) == (
        INC_DEV, EVIL_PRINCIPAL, "2026-11-20T14:08:00+00:00"
    )
    assert row["scope"]["accounts"] == [ACCOUNT] and row["scope"]["instances"] is None
    assert row["acknowledged_by"] == "alice"  # the UPDATE after the checkpoint
    log = Path(lake) / lakehouse.INCIDENTS.name / "_delta_log"
    assert sorted(p.name for p in log.glob("*.checkpoint.parquet")) == [
        "00000000000000000002.checkpoint.parquet"
    ]


def test_incidents_show_unknown_or_malformed_id(
    lake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "INC-19990101-0000000000"
    assert run(["incidents", "show", missing, "--lakehouse", lake], capsys) == (
        1, [""], f"trailwarden incidents: no incident {missing}.\n"
    )
    code, _, err = run(["incidents", "show", "x\x1b", "--lakehouse", lake], capsys)
    assert (code, err) == (
        1,
        "trailwarden incidents: 'x\\x1b' is not an incident id such as INC-20261120-0123456789.\n",
    )


@pytest.fixture(scope="module")
def moto() -> Iterator[Any]:
    yield from moto_endpoint()


def test_alerts_and_incidents_read_an_s3a_lakehouse(
    lake: str, moto: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="terminal-lake")
    for name in (lakehouse.ALERTS.name, lakehouse.INCIDENTS.name):
        upload_tree(s3, Path(lake) / name, "terminal-lake", f"tw/{name}/")
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in moto.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    uri = "s3a://terminal-lake/tw"
    assert run(["alerts", "--env", "s3", "--lakehouse", uri, "--since", "all"], capsys) == (
        0, ALL_ALERTS, ""
    )
    assert run(["incidents", "list", "--env", "s3", "--lakehouse", uri], capsys)[1][1].startswith(
        INC_DEV
    )
    code, _, err = run(["alerts", "--env", "s3", "--lakehouse", "s3a://terminal-lake/none"], capsys)
    assert (code, err) == (
        1, "trailwarden alerts: no alert table at s3a://terminal-lake/none/gold/alerts; "
        "run the pipeline first.\n",
    )


def java_trap(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose only ``java`` (JAVA_HOME and first on PATH) records that it ran."""
    marker = tmp_path / "java-started"
    bin_dir = tmp_path / "jdk" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "java").write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexit 1\n')
    (bin_dir / "java").chmod(0o755)
    env = dict(os.environ, JAVA_HOME=str(bin_dir.parent), PATH=f"{bin_dir}:{os.environ['PATH']}",
               TZ="Asia/Kolkata")
    return env, marker


def spark_submit(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT_DIR / "spark-submit.sh"), *args], env=env, cwd=ROOT_DIR,
                          capture_output=True, text=True, timeout=300, check=False)


def test_terminal_commands_and_help_start_no_java(lake: str, tmp_path: Path) -> None:
    env, marker = java_trap(tmp_path)
    for args in (["alerts", "--help"], ["incidents", "--help"], ["detect", "--help"], ["help"]):
        done = spark_submit(args, env)
        assert done.returncode == 0 and done.stdout.startswith("usage: spark-submit.sh"), args
    done = spark_submit(["alerts", "--lakehouse", lake, "--since", "all"], env)
    # The times are UTC under TZ=Asia/Kolkata too.
    assert (done.returncode, done.stdout.split("\n")) == (0, ALL_ALERTS)
    done = spark_submit(["incidents", "show", INC_DEV, "--lakehouse", lake], env)
    assert (done.returncode, done.stdout.split("\n")[0]) == (0, "# Dev key used")
    assert not marker.exists()
    # The trap works: a Spark job checks Java first and so runs it.
    assert spark_submit(["detect", "--lakehouse", lake], env).returncode != 0
    assert marker.read_text() == "-version\n"
