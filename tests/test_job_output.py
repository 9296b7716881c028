"""What the writing jobs print (pipeline, detect, incidents run, report, remediate, notify) is
inert at a terminal: log-derived text (titles, resource ids, AWS and destination messages)
reaches it only with control, escape and bidi characters as visible escapes. The jobs' steps are
replaced by stand-ins that return hostile text, so no JVM starts."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from jobs.commands import detect, pipeline, remediate, report
from jobs.incidents.execute import Outcome
from jobs.main import main

EVIL = "Root key \x1b[2J\x1b]0;pwned\x07 used\r\nCRITICAL forged \u202egnp.exe \x9b1m"
ESCAPED = ("\\x1b[2J", "\\x1b]0;pwned\\x07", "\\x0d\\x0a", "\\u202e", "\\x9b")
INCIDENT = "INC-20261120-0123456789"


def inert(out: str) -> bool:
    """No control, format or separator character but the line breaks between lines."""
    return not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c != "\n" for c in out)


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[list[str]]:
    yield ["--env", "test", "--lakehouse", str(tmp_path / "lake")]


def lines_of(*texts: str) -> SimpleNamespace:
    return SimpleNamespace(lines=lambda: list(texts), failed=[], release=lambda: None)


def patch_session(monkeypatch: pytest.MonkeyPatch, *modules: Any) -> None:
    for module in modules:
        monkeypatch.setattr(module, "build_session", lambda *a, **k: None)
    monkeypatch.setattr("jobs.runtime.session.build_session", lambda *a, **k: None)
    monkeypatch.setattr("jobs.enrich.Enrichment.of", lambda *a, **k: lines_of())


def check(capsys: pytest.CaptureFixture[str], code: int) -> str:
    out = capsys.readouterr().out
    assert code == 0
    assert inert(out), out
    assert all(e in out for e in ESCAPED), out
    return out


def test_pipeline_prints_incidents_and_deliveries_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lake: list[str]
) -> None:
    patch_session(monkeypatch, pipeline)
    monkeypatch.setattr(pipeline, "parse_destinations", lambda *a: ["pd"])
    monkeypatch.setattr(pipeline, "run_ingest", lambda *a: [SimpleNamespace(line=lambda: EVIL)])
    monkeypatch.setattr(pipeline, "run_detections", lambda *a: EVIL)
    monkeypatch.setattr(pipeline, "run_incidents", lambda *a: lines_of(EVIL))
    monkeypatch.setattr(pipeline, "run_notify", lambda *a: lines_of(f"failed pd: {EVIL}"))
    out = check(capsys, main(["pipeline", *lake]))
    assert out.count("\\x1b[2J") == 4  # accounting, detect, incidents and notify lines


def test_detect_retro_hunt_prints_titles_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lake: list[str]
) -> None:
    patch_session(monkeypatch, detect)
    found = {"alert_id": "a1", "severity": "high", "first_seen": datetime(2026, 11, 20, tzinfo=UTC),
             "title": EVIL}
    monkeypatch.setattr(detect, "retro_hunt",
                        lambda *a: SimpleNamespace(new=[found], changed=[], unchanged=0))
    check(capsys, main(["detect", "--detection", "x", "--from", "2026-11-20T00:00:00Z",
                        "--to", "2026-11-21T00:00:00Z", *lake]))


def test_incidents_run_prints_its_lines_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lake: list[str]
) -> None:
    patch_session(monkeypatch)
    monkeypatch.setattr("jobs.incidents.run.run_incidents", lambda *a, **k: lines_of(EVIL))
    check(capsys, main(["incidents", "run", *lake]))


def test_report_prints_paths_and_metrics_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lake: list[str]
) -> None:
    patch_session(monkeypatch, report)
    monkeypatch.setattr(report.store, "load_incidents", lambda *a: [{"status": "open"}])
    monkeypatch.setattr(report, "write_reports", lambda *a: {INCIDENT: f"reports/{EVIL}.html"})
    monkeypatch.setattr(report, "update_metrics", lambda *a: [])
    monkeypatch.setattr(report, "metrics_markdown", lambda rows: f"# metrics\n{EVIL}\n")
    check(capsys, main(["report", *lake]))


ACTION = {"step": 1, "action": "terminate-instances", "resource_type": "instance",
          "resource_id": f"i-0abc{EVIL}", "account_id": "111122223333", "region": "us-east-1",
          "description": EVIL, "command": f"aws ec2 terminate-instances --instance-ids {EVIL}",
          "console_steps": [EVIL], "done": False, "done_at": None, "done_by_event_id": None}


@pytest.mark.parametrize("json_out", [False, True], ids=["markdown", "json"])
def test_remediate_prints_the_plan_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lake: list[str],
    json_out: bool,
) -> None:
    patch_session(monkeypatch, remediate)
    monkeypatch.setattr(remediate.store, "load_incidents",
                        lambda *a: [{"remediation": [ACTION]}])
    code = main(["remediate", INCIDENT, *lake, *(["--json"] if json_out else [])])
    out = capsys.readouterr().out
    assert code == 0 and inert(out), out
    assert ("\\u001b[2J" if json_out else "\\x1b[2J") in out


def test_remediate_outcomes_are_inert() -> None:
    lines = remediate.outcome_lines("executed:", [
        Outcome(1, "revoke", f"sg-1{EVIL}", "failed", f"AccessDenied: {EVIL}")])
    assert inert("\n".join(lines))
    assert all(e in lines[1] for e in ESCAPED)


def test_notify_prints_deliveries_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lake: list[str]
) -> None:
    patch_session(monkeypatch)
    monkeypatch.setattr("jobs.commands.notify.parse_destinations", lambda *a: ["pd"])
    monkeypatch.setattr("jobs.commands.notify.run_notify", lambda *a: lines_of(EVIL))
    check(capsys, main(["notify", *lake]))
