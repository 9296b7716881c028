"""kill -9 of a notify run after PagerDuty got an event and before the ledger commit: the rerun
sends it again with the same dedup_key, and PagerDuty holds each incident once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.delivery import ledger
from tests.support.delivery_fixtures import incident, write_incidents
from tests.support.fake_pagerduty import FakePagerDuty

ROOT = Path(__file__).resolve().parents[1]
A, B = "INC-20261120-00000000aa", "INC-20261120-00000000bb"
KEY = "R0UT1NGKEY0123456789abcdef012345"


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty(KEY)
    fake.server.start()
    yield fake
    fake.server.stop()


def notify_process(lake: str, url: str) -> subprocess.Popen[bytes]:
    """``jobs.main notify`` in a process of its own (its own JVM), as spark-submit.sh runs it."""
    env = {**os.environ, "PD_KEY": KEY, "TZ": "UTC", "PYTHONPATH": str(ROOT)}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.main", "notify", "--env", "test", "--lakehouse", lake,
         "--set", "destinations.pd.type=pagerduty", "--set", f"destinations.pd.url={url}",
         "--set", "destinations.pd.routing_key_env=PD_KEY",
         "--set", "destinations.pd.backoff_seconds=0.05"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def test_kill_between_send_and_commit_then_rerun_holds_each_incident_once(
    spark: SparkSession, tmp_path: Path, pd: FakePagerDuty
) -> None:
    lake = str(tmp_path / "lake")
    write_incidents(spark, lake, incident(A), incident(B))
    killed = notify_process(lake, pd.url)
    pd.server.kill_on_next_request(killed.pid)
    killed.communicate(timeout=600)
    assert killed.returncode == -9
    assert [e["dedup_key"] for e in pd.accepted] == [A]  # PagerDuty got it; the ledger did not
    assert ledger.read_rows(spark, lake, "pd", "gold/incidents") == []

    rerun = notify_process(lake, pd.url)
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out.decode()[-2000:]
    assert [e["dedup_key"] for e in pd.accepted] == [A, A, B]  # A re-sent with the same key
    assert pd.alerts == {A: "triggered", B: "triggered"}  # one PagerDuty alert per incident
    rows = ledger.read_rows(spark, lake, "pd", "gold/incidents")
    assert sorted((r["object_id"], r["action"], r["status"]) for r in rows) == [
        ("", "cursor", "committed"), (A, "trigger", "sent"), (B, "trigger", "sent")]
