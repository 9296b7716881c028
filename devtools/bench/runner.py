"""Running the measurements as child processes: the in-process pipeline, DuckDB, the floor,
and whole ``./spark-submit.sh pipeline`` processes for the incremental measurement."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devtools.bench.datasets import Landing, incremental_split
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


def run_duckdb(files: dict[str, list[str]], work: Path, cores: int) -> dict[str, Any]:
    spec = {
        "cloudtrail": files[CLOUDTRAIL.name],
        "vpcflow": files[VPCFLOW.name],
        "work": str(work / "duckdb-parquet"),
        "cores": cores,
    }
    return measure("duckdb", spec, work)


def run_floor(files: dict[str, list[str]], work: Path, cores: int) -> dict[str, Any]:
    return measure(
        "floor", {"cloudtrail": files[CLOUDTRAIL.name], "vpcflow": files[VPCFLOW.name], "cores": cores}, work
    )


def _submit(landing: Path, lakehouse: Path, log_path: Path, env: str | None) -> dict[str, Any]:
    """``./spark-submit.sh pipeline`` as a whole process (JVM start included)."""
    cpu = children_cpu_seconds()
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
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(children_cpu_seconds() - cpu, 3),
        "output": proc.stdout.strip().splitlines(),
    }


def run_incremental(
    landing: Landing, work: Path, fraction: float = 0.01, env: str | None = None
) -> dict[str, Any]:
    """A full run over all but the newest ``fraction`` of the files, then a run that finds only
    those: both whole ``spark-submit.sh pipeline`` processes on the same lakehouse."""
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
    return {
        "fraction": fraction,
        **split.counts,
        "full": full,
        "incremental": new,
        "ratio": round(new["wall_s"] / full["wall_s"], 4) if full["wall_s"] else None,
    }
