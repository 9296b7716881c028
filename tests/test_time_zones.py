"""A driver outside UTC finds the same alerts, incidents and report times as one in UTC.

``spark-submit.sh pipeline`` runs with ``TZ=America/Los_Angeles`` as a background job
(``tests/support/background.py``) over the sample's attack hours and the responder's clean-up;
the suite's own session (UTC) runs the same steps over the same files.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from devtools.sample.cli import generate, write_remediation
from jobs.detect.run import run_detections
from jobs.enrich import Enrichment
from jobs.incidents.run import run_incidents
from jobs.ingest.run import run_ingest
from jobs.lakehouse import ALERTS, INCIDENTS
from jobs.runtime.config import load_config
from tests.support import background

pytestmark = pytest.mark.extended  # CI only: TRAILWARDEN_EXTENDED=1 (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
ALERT_COLUMNS = ("alert_id", "detection_name", "severity", "title", "window_start", "first_seen",
                 "last_seen", "alert_time")
INCIDENT_COLUMNS = ("incident_id", "severity", "status", "title", "alert_time", "started_at",
                    "fixed_at", "actions_done", "actions_total")


def _landing(root: Path) -> Path:
    landing = root / "landing"
    generate(landing, hours=(13, 15))
    write_remediation(landing)
    return landing


@background.job("test_time_zones.py")
def pacific_run(tmp: Path) -> Path:
    """The pipeline through ``spark-submit.sh`` with the driver's clock zone set to Los Angeles."""
    landing = _landing(tmp)
    env = {**os.environ, "TZ": "America/Los_Angeles"}
    with (tmp / "pipeline.log").open("wb") as log:
        code = background.popen(
            [str(ROOT / "spark-submit.sh"), "pipeline", "--env", "test", "--landing",
             str(landing), "--lakehouse", str(tmp / "lake")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        ).wait()
    assert code == 0, (tmp / "pipeline.log").read_text(errors="replace")[-2000:]
    return tmp


def _rows(spark: SparkSession, lakehouse: str, table: Any, columns: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(r) for r in table.read(spark, lakehouse).select(*columns).collect())


def _reports(lakehouse: Path) -> dict[str, list[str]]:
    """Each incident report's lines, the lakehouse path and the pipeline's own wall-clock latency
    line (when each run happened to write its alerts) left out."""
    return {p.name: [line.replace(str(lakehouse), "<lakehouse>")
                     for line in p.read_text().splitlines() if "First written by" not in line]
            for p in sorted((lakehouse / "reports").glob("INC-*.md"))}


@pytest.mark.slow
def test_a_driver_in_los_angeles_finds_what_a_driver_in_utc_finds(
    request: pytest.FixtureRequest, spark: SparkSession, enrichment: Enrichment, tmp_path: Path
) -> None:
    pacific = background.result(request, "test_time_zones.py")
    conf = load_config("test", [f"landing={_landing(tmp_path)}", f"lakehouse={tmp_path / 'lake'}"])
    run_ingest(spark, conf, "utc")
    run_detections(spark, conf, "utc", enrichment)
    run_incidents(spark, conf, "utc", enrichment)

    la_lake = str(pacific / "lake")
    utc_alerts = _rows(spark, conf["lakehouse"], ALERTS, ALERT_COLUMNS)
    assert {"root_access_key_used", "security_group_opened_to_world"} <= {a[1] for a in utc_alerts}
    assert _rows(spark, la_lake, ALERTS, ALERT_COLUMNS) == utc_alerts
    utc_incidents = _rows(spark, conf["lakehouse"], INCIDENTS, INCIDENT_COLUMNS)
    assert any(i[2] == "fixed" for i in utc_incidents)
    assert _rows(spark, la_lake, INCIDENTS, INCIDENT_COLUMNS) == utc_incidents
    utc_reports = _reports(tmp_path / "lake")
    assert utc_reports and _reports(pacific / "lake") == utc_reports
