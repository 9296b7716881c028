"""Where Spark's time went: a summary of one application's event log (``spark.eventLog.*``).

Jobs are grouped by description (PySpark sets it to the Python call site, ``count at
jobs/ingest/run.py:157``); Spark's distributed file listing shows up as jobs described
``Listing leaf files and directories for N paths``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

LISTING_PREFIX = "Listing leaf files and directories"
_METRICS = {
    "internal.metrics.executorRunTime": "executor_run_ms",
    "internal.metrics.executorCpuTime": "executor_cpu_ns",
    "internal.metrics.input.bytesRead": "input_bytes",
    "internal.metrics.input.recordsRead": "input_records",
    "internal.metrics.shuffle.write.bytesWritten": "shuffle_write_bytes",
    "internal.metrics.output.bytesWritten": "output_bytes",
    "internal.metrics.diskBytesSpilled": "spill_disk_bytes",
}


def _parts(path: Path) -> list[Path]:
    """A single event-log file, or the ``events_<n>_...`` parts of a rolling log directory."""
    if path.is_file():
        return [path]
    parts = [p for p in path.glob("events_*") if p.is_file()]
    return sorted(
        parts, key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else 0
    )


def _events(path: Path) -> list[dict[str, Any]]:
    out = []
    for part in _parts(path):
        with part.open() as fh:
            for line in fh:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:  # a blank or half-written last line
                    continue
    return out


def _short(name: str) -> str:
    """``count at /work/main/jobs/ingest/job.py:157`` -> ``count at jobs/ingest/run.py:157``."""
    for marker in ("/jobs/", "/devtools/bench/", "/pyspark/"):
        head, sep, tail = name.partition(marker)
        if sep and " at " in head:
            return head.split(" at ")[0] + " at " + marker.lstrip("/") + tail
    return name.splitlines()[0][:120] if name else "(unnamed)"


def summarize(path: Path, top: int = 12) -> dict[str, Any]:
    """Totals, the listing jobs, and the ``top`` job descriptions by wall time."""
    jobs: dict[int, dict[str, Any]] = {}
    stage_metrics: dict[int, dict[str, float]] = {}
    stage_tasks: dict[int, int] = {}
    stage_job: dict[int, int] = {}
    tiny_tasks = tasks = 0
    for ev in _events(path):
        kind = ev.get("Event")
        if kind == "SparkListenerJobStart":
            props = ev.get("Properties") or {}
            desc = props.get("spark.job.description") or ""
            names = [s.get("Stage Name", "") for s in ev.get("Stage Infos", [])]
            jobs[ev["Job ID"]] = {
                "start": ev.get("Submission Time"),
                "desc": desc or (names[-1] if names else ""),
                "end": None,
            }
            for sid in ev.get("Stage IDs", []):
                stage_job[sid] = ev["Job ID"]
        elif kind == "SparkListenerJobEnd" and ev["Job ID"] in jobs:
            jobs[ev["Job ID"]]["end"] = ev.get("Completion Time")
        elif kind == "SparkListenerStageCompleted":
            info = ev["Stage Info"]
            sid = info["Stage ID"]
            stage_tasks[sid] = stage_tasks.get(sid, 0) + int(info.get("Number of Tasks", 0))
            acc = stage_metrics.setdefault(sid, defaultdict(float))
            for a in info.get("Accumulables", []):
                key = _METRICS.get(a.get("Name", ""))
                if key:
                    acc[key] += float(a.get("Value") or 0)
        elif kind == "SparkListenerTaskEnd":
            tasks += 1
            info = ev.get("Task Info", {})
            if (info.get("Finish Time", 0) - info.get("Launch Time", 0)) < 50:
                tiny_tasks += 1

    by_desc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    listing = {"jobs": 0, "wall_s": 0.0, "tasks": 0}
    for jid, job in jobs.items():
        wall = ((job["end"] or job["start"]) - job["start"]) / 1000 if job["start"] else 0.0
        desc = _short(job["desc"])
        row = by_desc[desc]
        row["jobs"] += 1
        row["wall_s"] += wall
        sids = [s for s, j in stage_job.items() if j == jid]
        row["tasks"] += sum(stage_tasks.get(s, 0) for s in sids)
        for s in sids:
            for k, v in stage_metrics.get(s, {}).items():
                row[k] += v
        if job["desc"].startswith(LISTING_PREFIX):
            listing["jobs"] += 1
            listing["wall_s"] += wall
            listing["tasks"] += sum(stage_tasks.get(s, 0) for s in sids)
    ranked = sorted(by_desc.items(), key=lambda kv: -kv[1]["wall_s"])
    return {
        "jobs": len(jobs),
        "tasks": tasks,
        "tasks_under_50ms": tiny_tasks,
        "job_wall_s": round(sum(r["wall_s"] for r in by_desc.values()), 3),
        "listing_jobs": {k: round(v, 3) if isinstance(v, float) else v for k, v in listing.items()},
        "top_jobs": [
            {
                "description": desc,
                "jobs": int(r["jobs"]),
                "wall_s": round(r["wall_s"], 3),
                "tasks": int(r["tasks"]),
                "executor_run_s": round(r["executor_run_ms"] / 1000, 3),
                "executor_cpu_s": round(r["executor_cpu_ns"] / 1e9, 3),
                "input_mb": round(r["input_bytes"] / 2**20, 1),
                "shuffle_write_mb": round(r["shuffle_write_bytes"] / 2**20, 1),
                "spill_disk_mb": round(r["spill_disk_bytes"] / 2**20, 1),
            }
            for desc, r in ranked[:top]
        ],
    }


def find_log(directory: Path) -> Path | None:
    """The newest application event log in ``directory`` (a file, or a rolling-log folder)."""
    logs = sorted(
        (p for p in directory.glob("*") if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
    return logs[-1] if logs else None
