"""A smoke run of ``python -m devtools.bench`` at the smallest scale and one delivery hour
(14 UTC, the
attack's), with the suite's configuration overlay: the results document has its keys, and
DuckDB's Parquet holds exactly as many rows as trailwarden's silver tables.

A benchmark is not a test: nothing here looks at a timing. The run starts when the suite is
collected and works beside the other tests (``tests/support/background.py``); these tests run last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import background

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@background.job("test_bench_smoke.py")
def run_bench(out: Path) -> dict:
    """``python -m devtools.bench`` at the smallest scale into ``out``; the results document."""
    with (out / "bench.log").open("wb") as log:
        proc = background.popen(
            [sys.executable, "-m", "devtools.bench", "--scale", "0.001", "--hours", "14",
             "--env", "test", "--no-incremental", "--out", str(out),
             "--docs", str(out / "benchmarks.md")],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log,
            stderr=subprocess.STDOUT,
        )
        code = proc.wait(timeout=1800)
    assert code == 0, (out / "bench.log").read_text(errors="replace")[-3000:]
    doc = json.loads((out / "results.json").read_text())
    doc["_markdown"] = (out / "benchmarks.md").read_text()
    return doc


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> dict:
    return background.result(request, "test_bench_smoke.py")


def test_results_have_every_section(results: dict) -> None:
    for key in (
        "machine",
        "landing",
        "trailwarden",
        "duckdb",
        "duckdb_lean",
        "floor",
        "comparison",
        "row_counts",
        "targets",
        "incremental",
        "scaling",
    ):
        assert key in results
    for key in ("cores", "memory_gib", "cpu_model", "java", "spark", "delta", "duckdb"):
        assert results["machine"][key]
    names = {s["name"] for s in results["trailwarden"]["stages"]}
    assert {"ingest", "ingest cloudtrail", "ingest vpcflow", "ingest discovery", "detect"} <= names
    for stage in results["trailwarden"]["stages"]:
        assert {
            "wall_s",
            "cpu_s",
            "records_per_s_per_core",
            "jvm_peak_mb",
            "python_peak_mb",
        } <= set(stage)
    assert set(results["comparison"]) == {"cloudtrail", "vpcflow", "detect"}
    assert {"trailwarden_vs_lean", "trailwarden_vs_duckdb", "trailwarden_vs_floor"} <= set(
        results["comparison"]["cloudtrail"]
    )
    assert results["trailwarden"]["output_files"]["silver/cloudtrail_events"]
    assert len(results["targets"]) == 10
    assert "bench:begin" in results["_markdown"] and "### Targets" in results["_markdown"]
    assert results["env"] == "test" and "configuration overlay `test`" in results["_markdown"]


def test_both_duckdb_baselines_hold_trailwardens_silver_rows(results: dict) -> None:
    for table, counts in results["row_counts"].items():
        assert counts["trailwarden"] > 0, table
        assert counts["duckdb"] == counts["trailwarden"], table
        assert counts["lean"] == counts["trailwarden"], table


def test_floor_parses_every_generated_record(results: dict) -> None:
    parsed = {s["name"]: s["records"] for s in results["floor"]["stages"]}
    counts = results["landing"]["counts"]
    assert parsed["parse cloudtrail"] == counts["cloudtrail"]["records"]
    assert parsed["parse vpcflow"] == counts["vpcflow"]["records"]
