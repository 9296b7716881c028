"""Running the measurements as child processes: the in-process pipeline, DuckDB (mirror and
lean), the floor, and whole ``./spark-submit.sh pipeline`` processes for the incremental,
nothing-new and latency measurements."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.bench import latency
from devtools.bench.datasets import Landing, incremental_split
from devtools.bench.machine import load_average
from devtools.bench.measure import children_cpu_seconds
from jobs.runtime.config import PROJECT_ROOT
from jobs.sources import CLOUDTRAIL, VPCFLOW

log = logging.getLogger("devtools.bench.runner")


class MeasurementFailed(RuntimeError):
    """A measured process exited with an error; the message ends with its log's last lines."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PROJECT_ROOT) + (
        os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
    )
    env["TZ"] = "UTC"
    return env


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def measure(kind: str, spec: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run ``devtools.bench.worker KIND`` in a child process; return its result plus ``process_wall_s``."""
    work.mkdir(parents=True, exist_ok=True)
    spec_path, result_path, log_path = (
        work / f"{kind}.{s}" for s in ("spec.json", "result.json", "log")
    )
    spec_path.write_text(json.dumps(spec, indent=2))
    result_path.unlink(missing_ok=True)
    log.info("measuring %s (log: %s)", kind, log_path)
    began = time.perf_counter()
    with log_path.open("w") as fh:
        code = subprocess.run(
            [sys.executable, "-m", "devtools.bench.worker", kind, str(spec_path), str(result_path)],
            cwd=PROJECT_ROOT,
            env=_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    took = time.perf_counter() - began
    if code != 0 or not result_path.is_file():
        raise MeasurementFailed(
            f"{kind} exited with {code}; last lines of {log_path}:\n{_tail(log_path)}"
        )
    result = json.loads(result_path.read_text())
    result["process_wall_s"] = round(took, 3)
    result["log"] = str(log_path)
    return result


def source_files(landing: Landing) -> dict[str, list[str]]:
    return {s: [str(p) for p in landing.files(s)] for s in (CLOUDTRAIL.name, VPCFLOW.name)}


def run_trailwarden(
    landing: Landing, work: Path, cores: int, detect: bool = True, env: str | None = None
) -> dict[str, Any]:
    lakehouse = work / "lakehouse"
    shutil.rmtree(lakehouse, ignore_errors=True)
    shutil.rmtree(work / "eventlog", ignore_errors=True)
    spec = {
        "landing": str(landing.root),
        "lakehouse": str(lakehouse),
        "work": str(work),
        "cores": cores,
        "detect": detect,
        "env": env,
    }
    return measure("trailwarden", spec, work)


def run_duckdb(
    files: dict[str, list[str]], work: Path, cores: int, kind: str = "duckdb"
) -> dict[str, Any]:
    """The mirror baseline (``duckdb``) or the lean one (``duckdb-lean``) on ``files``."""
    spec = {
        "cloudtrail": files[CLOUDTRAIL.name],
        "vpcflow": files[VPCFLOW.name],
        "work": str(work / f"{kind}-parquet"),
        "cores": cores,
    }
    return measure(kind, spec, work)


def run_floor(files: dict[str, list[str]], work: Path, cores: int) -> dict[str, Any]:
    return measure(
        "floor", {"cloudtrail": files[CLOUDTRAIL.name], "vpcflow": files[VPCFLOW.name], "cores": cores}, work
    )


def _submit(landing: Path, lakehouse: Path, log_path: Path, env: str | None) -> dict[str, Any]:
    """``./spark-submit.sh pipeline`` as a whole process (JVM start included)."""
    cpu = children_cpu_seconds()
    started_at = datetime.now(UTC)
    began = time.perf_counter()
    with log_path.open("w") as fh:
        proc = subprocess.run(
            [
                "./spark-submit.sh",
                "pipeline",
                "--landing",
                str(landing),
                "--lakehouse",
                str(lakehouse),
                *(["--env", env] if env else []),
            ],
            cwd=PROJECT_ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=fh,
            text=True,
            check=False,
        )
    wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise MeasurementFailed(
            f"spark-submit.sh pipeline exited with {proc.returncode}; last lines of {log_path}:\n"
            f"{_tail(log_path)}"
        )
    output = proc.stdout.strip().splitlines()
    return {
        "started_at": started_at.isoformat(),
        "wall_s": round(wall, 3),
        "cpu_s": round(children_cpu_seconds() - cpu, 3),
        "load_average_at_end": load_average(),
        **steps(output),
        "output": output,
    }


_LOGGED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (\S+) \w+ (.*)$")
_INCIDENTS = re.compile(r"incidents: (\d+) \((\d+) new or changed this run, (\d+) reports")


def steps(output: list[str]) -> dict[str, Any]:
    """From a pipeline's printed lines: the incident step's seconds (its log line's time minus
    the detect summary's) and the incidents, changed incidents and reports it reports."""
    at: dict[str, datetime] = {}
    for line in output:
        match = _LOGGED.match(line)
        if match and match.group(2) in ("trailwarden.detect", "trailwarden.incidents"):
            at[match.group(2)] = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
    found: dict[str, Any] = {}
    if {"trailwarden.detect", "trailwarden.incidents"} <= set(at):
        took = at["trailwarden.incidents"] - at["trailwarden.detect"]
        found["incidents_s"] = round(took.total_seconds(), 3)
    for line in output:
        match = _INCIDENTS.search(line)
        if match:
            found["incidents"], found["incidents_changed"], found["reports_written"] = (
                int(g) for g in match.groups()
            )
    return found


def run_incremental(
    landing: Landing, work: Path, fraction: float = 0.01, env: str | None = None
) -> dict[str, Any]:
    """On one lakehouse, whole ``spark-submit.sh pipeline`` processes: a full run over all but
    the newest ``fraction`` of the files, a run that finds only those, a run that finds nothing
    new, and the latency run: a new 5-minute delivery holding a root access-key call
    (``devtools.bench.latency``), timed from the process start to the alert's commit."""
    work.mkdir(parents=True, exist_ok=True)
    split = incremental_split(landing, work, fraction)
    lakehouse = work / "lakehouse"
    shutil.rmtree(lakehouse, ignore_errors=True)
    log.info(
        "incremental: full run over %d files",
        split.counts["files_total"] - split.counts["files_new"],
    )
    full = _submit(split.root, lakehouse, work / "full.log", env)
    split.add_new()
    log.info("incremental: run over %d new files", split.counts["files_new"])
    new = _submit(split.root, lakehouse, work / "incremental.log", env)
    log.info("incremental: a run that finds nothing new")
    idle = _submit(split.root, lakehouse, work / "nothing-new.log", env)
    delivery = latency.new_delivery(
        sorted(p for p in _files(split.root, CLOUDTRAIL.name)),
        sorted(p for p in _files(split.root, VPCFLOW.name)),
    )
    log.info("latency: a new delivery of %d files", len(delivery["files"]))
    late = _submit(split.root, lakehouse, work / "latency.log", env)
    committed = latency.alert_committed_at(
        lakehouse / "gold" / "alerts",
        delivery["access_key_id"],
        datetime.fromisoformat(delivery["event_time"]),
        datetime.fromisoformat(late["started_at"]),
    )
    started = datetime.fromisoformat(late["started_at"])
    late["alert_s"] = None if committed is None else round((committed - started).total_seconds(), 3)
    late["delivery"] = delivery
    return {
        "fraction": fraction,
        **split.counts,
        "full": full,
        "incremental": new,
        "nothing_new": idle,
        "latency": late,
        "ratio": round(new["wall_s"] / full["wall_s"], 4) if full["wall_s"] else None,
    }


def _files(root: Path, source: str) -> list[Path]:
    from jobs.ingest.landing import classify
    from jobs.sources import SOURCES

    return [p for p in root.rglob("*") if p.is_file() and classify(str(p), SOURCES) == source]
