"""Tuning on the shared sample: a run with an exception for the routine CI key rotation, a
dry-run detection and a failing one (on a copy of the sample's silver tables), then incidents and
notify: the suppressed and dry-run alerts are in gold/alerts and nowhere else; its health rows and
the ``rules`` table; backtests of the mission's detections that write nothing, as configured and
with a changed threshold, and the ``detect --backtest`` command: its report files and exit
statuses."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from devtools.sample.build import DEFAULT_DAY
from devtools.sample.cli import ATTACK
from devtools.sample.identities import CI_IP
from devtools.sample.ids import Clock
from devtools.sample.landscape import build_account
from devtools.sample.scheduled import ROTATED_USER, key_rotation
from jobs import lakehouse
from jobs.commands import detect, rules
from jobs.detect.backtest import backtest
from jobs.detect.catalog import DETECTIONS_CONF, load_catalog
from jobs.detect.run import run_detections
from jobs.enrich import Enrichment
from jobs.incidents.run import run_incidents
from jobs.main import main as jobs_main
from jobs.runtime.config import load_config
from jobs.runtime.lock import writer_lock
from jobs.sources import SOURCES
from tests.support.delivery_fixtures import notify
from tests.support.sample_lake import SampleLake

CHOSEN = (
    "iam_user_credentials_created",
    "key_pair_imported",
    "security_group_opened_to_world",
    "run_instances_burst",
    "root_access_key_used",
)
# The role session of the sample's routine CI key rotation (dev, 02:14 UTC; its CreateAccessKey).
_, _, CREATE_KEY = key_rotation(7, Clock(DEFAULT_DAY), build_account(7, 1))[1]
CI_SESSION = CREATE_KEY["userIdentity"]["arn"]
DAY_START, DAY_END = "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"


def settings_file(tmp_path: Path, **overrides: dict[str, Any]) -> Path:
    """conf/detections.yml with every detection but ``CHOSEN`` off, and ``overrides`` applied."""
    data = yaml.safe_load(DETECTIONS_CONF.read_text())
    for d in load_catalog():
        own = data["detections"].setdefault(d.name, {}) or {}
        data["detections"][d.name] = {
            **own,
            "enabled": d.name in CHOSEN,
            **overrides.get(d.name, {}),
        }
    path = tmp_path / "detections.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def tuned(
    spark: SparkSession,
    sample_lake: SampleLake,
    enrichment: Enrichment,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The sample's silver tables copied to a new lakehouse and detected with tuning."""
    sample_lake.stage1()
    tmp = tmp_path_factory.mktemp("tuned")
    source = Path(sample_lake.conf["lakehouse"])
    for s in SOURCES:
        if (source / s.table.name).is_dir():
            shutil.copytree(source / s.table.name, tmp / "lake" / s.table.name)
    burst = yaml.safe_load(DETECTIONS_CONF.read_text())["detections"]["run_instances_burst"]
    settings = settings_file(
        tmp,
        security_group_opened_to_world={"mode": "dry_run"},
        run_instances_burst={"params": {**burst["params"], "burst_min_instances": []}},
    )
    exceptions = tmp / "exceptions.yml"
    exceptions.write_text(
        yaml.safe_dump(
            {
                "exceptions": [
                    {
                        "id": "ci-rotates-publisher-key",
                        "detections": ["iam_user_credentials_created"],
                        "match": {
                            "principal_arn": CI_SESSION.rsplit("/", 1)[0] + "/*",
                            "source_ip": f"{CI_IP}/32",
                        },
                        "reason": "CI rotates the artifact-publisher key every night",
                        "owner": "platform-team",
                        "expires": "2099-01-01",
                    },
                    {
                        "id": "old-entry",
                        "detections": "*",
                        "match": {"region": "*"},
                        "reason": "expired",
                        "owner": "secops",
                        "expires": "2020-01-01",
                    },
                ]
            }
        )
    )
    conf = load_config(
        "test",
        [
            f"lakehouse={tmp / 'lake'}",
            f"detect.settings={settings}",
            f"detect.exceptions={exceptions}",
        ],
    )
    summary = run_detections(spark, conf, "tuned-1", enrichment)
    incidents = run_incidents(spark, conf, "tuned-1", enrichment)
    outbox = tmp / "outbox"
    dests = {name: {"type": "ocsf", "on": name, "format": "jsonl", "path": str(outbox / name)}
             for name in ("alerts", "incidents")}
    delivered = notify(spark, str(tmp / "lake"), dests, {})
    return {"conf": conf, "summary": summary, "lake": str(tmp / "lake"), "incidents": incidents,
            "delivered": delivered, "outbox": outbox}


def _sent(outbox: Path) -> dict[str, set[str]]:
    """The object ids each OCSF destination wrote (``finding_info.uid``)."""
    return {
        name: {json.loads(line)["finding_info"]["uid"]
               for f in (outbox / name).rglob("*.jsonl") for line in f.read_text().splitlines()}
        for name in ("alerts", "incidents")
    }


def test_exception_and_dry_run_alerts_are_in_gold_alerts_and_nowhere_else(
    spark: SparkSession, tuned: dict[str, Any]
) -> None:
    rows = [r.asDict() for r in lakehouse.ALERTS.read(spark, tuned["lake"]).collect()]
    [routine] = [r for r in rows if r["detection_name"] == "iam_user_credentials_created"]
    assert (routine["status"], routine["exception_id"], routine["severity"]) == (
        "suppressed", "ci-rotates-publisher-key", "medium")
    assert (routine["principal_arn"], routine["source_ips"]) == (CI_SESSION, [CI_IP])
    assert routine["title"] == f"IAM access key created for {ROTATED_USER} by {CI_SESSION}"
    [dry] = [r for r in rows if r["detection_name"] == "security_group_opened_to_world"]
    assert (dry["status"], dry["exception_id"]) == ("dry_run", None)
    live = {r["alert_id"] for r in rows if r["status"] == "open"}
    assert {r["detection_name"] for r in rows if r["status"] == "open"} == {
        "key_pair_imported", "root_access_key_used"}  # the attacker's: no exception matches
    assert not [r for r in rows if r["detection_name"] == "run_instances_burst"]
    summary = tuned["summary"]
    assert summary.failed == ["run_instances_burst"]
    assert (summary.suppressed, summary.dry_run) == (1, 1)
    assert "expired exceptions, matching nothing: old-entry (2020-01-01, secops)" in str(summary)
    # Incidents group the open alerts only; notify sends those and the incident, nothing else.
    grouped = [i for i in tuned["incidents"].incidents if i["status"] != "merged"]
    assert [sorted(i["alert_ids"]) for i in grouped] == [sorted(live)]
    assert tuned["delivered"].failed == []
    # An incident is sent while it is live; when another module ran the shared sample's clean-up
    # stage first, the copied tables already fix it, and a fixed incident is never sent.
    live_incidents = {i["incident_id"] for i in grouped if i["status"] in ("open", "acknowledged")}
    assert _sent(tuned["outbox"]) == {"alerts": live, "incidents": live_incidents}
    ledger = lakehouse.DELIVERIES.read(spark, tuned["lake"]).collect()
    assert not {routine["alert_id"], dry["alert_id"]} & {d["object_id"] for d in ledger}


def test_health_rows_after_a_run_with_one_failing_detection(
    spark: SparkSession, tuned: dict[str, Any]
) -> None:
    rows = {
        r["detection_name"]: r.asDict()
        for r in lakehouse.DETECTION_HEALTH.read(spark, tuned["lake"]).collect()
    }
    assert sorted(rows) == sorted(CHOSEN)
    assert all(
        r["run_id"] == "tuned-1" and r["windows_evaluated"] > 0 and r["rows_read"] > 0
        for r in rows.values()
    )
    failed = rows["run_instances_burst"]
    assert (
        failed["error"]
        == "parameter 'burst_min_instances' of run_instances_burst is an empty list; "
        "give at least one value."
    )
    assert (failed["alerts_new"], rows["key_pair_imported"]["error"]) == (0, None)
    assert rows["iam_user_credentials_created"]["alerts_suppressed"] == 1
    assert rows["key_pair_imported"]["alerts_suppressed"] == 0
    dry = rows["security_group_opened_to_world"]
    assert (dry["mode"], dry["alerts_dry_run"]) == ("dry_run", dry["alerts_new"])
    assert dry["alerts_dry_run"] >= 1
    runs = (
        lakehouse.DETECTION_RUNS.read(spark, tuned["lake"])
        .select("detection_name")
        .distinct()
        .collect()
    )
    assert "run_instances_burst" not in {r[0] for r in runs}  # evaluated again next run


def test_rules_prints_the_health_table(
    tuned: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        rules.main(
            [
                "--lakehouse",
                tuned["lake"],
                "--set",
                f"detect.exceptions={tuned['conf']['detect']['exceptions']}",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    burst = next(line for line in out if line.startswith("run_instances_burst "))
    assert "never fired" in burst and "last error" in burst and "is an empty list" in burst
    dry = next(line for line in out if line.startswith("security_group_opened_to_world "))
    assert " dry_run " in dry
    assert next(line for line in out if line.startswith("mining_pool_traffic ")).split()[1:3] == [
        "live",
        "never",
    ]
    assert out[-1] == "expired exception old-entry (2020-01-01, secops) matches nothing"


def test_backtest_reports_the_mission_and_writes_nothing(
    spark: SparkSession, sample_lake: SampleLake, enrichment: Enrichment
) -> None:
    conf = sample_lake.stage1().conf
    lake = conf["lakehouse"]
    versions = {
        t.name: DeltaTable.forPath(spark, t.path(lake)).history(1).first()["version"]
        for t in (lakehouse.ALERTS, lakehouse.DETECTION_RUNS, lakehouse.BASELINES)
    }
    start, end = datetime.fromisoformat(DAY_START), datetime.fromisoformat(DAY_END)
    report = backtest(spark, conf, start, end, list(CHOSEN), "bt-1", enrichment)
    assert (report.new, report.gone, report.changed, report.errors) == ([], [], [], {})
    # The mission's five: the root key at 13:00 and 14:00, the key pair, the security group and
    # the launch burst, and CI's nightly key rotation (more when the responder's clean-up stage
    # ran first).
    assert report.alerts >= 6 and report.per_day["2026-11-20"]["open"] == report.alerts
    assert f"access_key:{ATTACK.access_key_id}" in dict(report.top_entities)
    assert {
        t.name: DeltaTable.forPath(spark, t.path(lake)).history(1).first()["version"]
        for t in (lakehouse.ALERTS, lakehouse.DETECTION_RUNS, lakehouse.BASELINES)
    } == versions


def test_backtest_of_a_changed_detection_prints_the_difference(
    spark: SparkSession, sample_lake: SampleLake, enrichment: Enrichment, tmp_path: Path
) -> None:
    burst = yaml.safe_load(DETECTIONS_CONF.read_text())["detections"]["run_instances_burst"]
    settings = settings_file(
        tmp_path, run_instances_burst={"params": {**burst["params"], "burst_min_instances": 11}}
    )
    conf = {**sample_lake.stage1().conf}
    conf["detect"] = {**conf["detect"], "settings": str(settings)}
    start, end = datetime.fromisoformat(DAY_START), datetime.fromisoformat(DAY_END)
    report = backtest(spark, conf, start, end, ["run_instances_burst"], "bt-2", enrichment)
    assert report.new == [] and report.changed == [] and report.differs
    assert [(r["detection_name"], r["severity"]) for r in report.gone] == [
        ("run_instances_burst", "high")
    ]
    assert any(
        line.startswith(f"  gone    {report.gone[0]['alert_id']}  high") for line in report.lines()
    )


def test_the_backtest_command_writes_its_report_and_exits_by_what_it_found(
    sample_lake: SampleLake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = sample_lake.stage1().conf
    reports = Path(conf["lakehouse"]) / "reports" / "backtests"
    burst = yaml.safe_load(DETECTIONS_CONF.read_text())["detections"]["run_instances_burst"]

    def command(params: dict[str, Any] | None = None) -> tuple[int, list[str], dict[str, str]]:
        """``detect --backtest`` of run_instances_burst over the sample day, with ``params``;
        its exit status, printed lines and new report files (suffix -> text)."""
        before = set(reports.glob("*")) if reports.is_dir() else set()
        args = ["--env", "test", "--lakehouse", conf["lakehouse"], "--backtest",
                "--from", DAY_START, "--to", DAY_END, "--detections", "run_instances_burst"]
        if params is not None:
            folder = tmp_path / f"settings-{len(list(tmp_path.iterdir()))}"
            folder.mkdir()
            settings = settings_file(folder, run_instances_burst={"params": params})
            args += ["--set", f"detect.settings={settings}"]
        status = detect.main(args)
        written = {p.suffix: p.read_text() for p in set(reports.glob("*")) - before}
        return status, capsys.readouterr().out.splitlines(), written

    with writer_lock(conf, "pipeline"):  # a backtest runs beside a writing job
        same, out, written = command()
    assert same == 0
    assert out[0].endswith("1 detections: 1 alerts; 0 new, 0 gone, 0 changed severity "
                           "against gold/alerts")
    assert sorted(written) == [".json", ".txt"]
    assert written[".txt"].splitlines() == out[:-1]
    assert out[-1].startswith(f"report: {reports}/") and out[-1].endswith(".txt (and .json)")

    differs, out, written = command({**burst["params"], "burst_min_instances": 11})
    assert differs == 3
    gone = json.loads(written[".json"])["gone"]
    assert [(r["detection_name"], r["severity"]) for r in gone] == [("run_instances_burst", "high")]
    assert f"  gone    {gone[0]['alert_id']}  high     run_instances_burst  " in "\n".join(out)
    assert written[".txt"].splitlines() == out[:-1]

    failed, out, written = command({**burst["params"], "burst_min_instances": []})
    assert failed == 1
    assert out[-2] == ("  FAILED  run_instances_burst: parameter 'burst_min_instances' of "
                       "run_instances_burst is an empty list; give at least one value.")
    error = out[-2].split(": ", 1)[1]
    assert json.loads(written[".json"])["errors"] == {"run_instances_burst": error}


@pytest.mark.parametrize(("span", "message"), [
    (["--from", "yesterday", "--to", DAY_END],
     "--from: 'yesterday' is not an ISO-8601 time such as 2026-11-20T14:00:00Z."),
    (["--from", DAY_START, "--to", "2026-11-31"],
     "--to: '2026-11-31' is not an ISO-8601 time such as 2026-11-20T14:00:00Z."),
    (["--from", "2026-11-20T10:30:00Z", "--to", "2026-11-20T10:10:00Z"],
     "--to (2026-11-20T10:10:00Z) must be later than --from (2026-11-20T10:30:00Z)."),
])
def test_a_backtest_with_bad_dates_is_a_usage_error_in_one_sentence(
    span: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert jobs_main(["detect", "--backtest", *span]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"spark-submit.sh detect: error: {message}"
