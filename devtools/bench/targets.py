"""The issue's eight targets, each with the value one bench invocation measured and a verdict
(``None``: not measured in this invocation)."""

from __future__ import annotations

from typing import Any


def _stage(result: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    return next((s for s in (result or {}).get("stages", []) if s["name"] == name), None)


def _at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _row(name: str, goal: str, measured: Any, met: bool | None, unit: str = "") -> dict[str, Any]:
    return {"name": name, "target": goal, "measured": measured, "unit": unit, "met": met}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Targets 1 to 8 (target 0, the lean baseline, is the reference of target 5)."""
    tw, comp = results["trailwarden"], results["comparison"]
    runs = results.get("incremental") or {}
    late = runs.get("latency") or {}
    idle = runs.get("nothing_new") or {}
    full = runs.get("full") or {}
    detect = (_stage(tw, "detect") or {}).get("wall_s")
    scaling = results.get("scaling") or {}
    peaks = [s.get("jvm_peak_mb") for s in tw.get("stages", []) if s.get("jvm_peak_mb")]
    ct, flows = comp["cloudtrail"].get("trailwarden_vs_lean"), comp["vpcflow"].get(
        "trailwarden_vs_lean"
    )
    reports = late.get("reports_written")
    return [
        _row("1. Log to alert (cold pipeline process)", "<= 60 s", late.get("alert_s"),
             _at_most(late.get("alert_s"), 60.0), "s"),
        _row("2. Nothing new (whole process)", "<= 20 s", idle.get("wall_s"),
             _at_most(idle.get("wall_s"), 20.0), "s"),
        _row("3. Incremental run (1% new files) vs full run", "<= 10%",
             None if not runs else round(100 * runs["ratio"], 1),
             None if not runs else runs["ratio"] <= 0.10, "%"),
        _row("4. All shipped detections over the day", "<= 30 s", detect, _at_most(detect, 30.0),
             "s"),
        _row("5a. CloudTrail ingest vs lean DuckDB", "<= 5x", ct, _at_most(ct, 5.0), "x"),
        _row("5b. Flow-log ingest vs lean DuckDB", "<= 7x", flows, _at_most(flows, 7.0), "x"),
        _row("6. Peak JVM resident memory (scale 4 with an 8 GiB heap)", "scale 4 completes",
             max(peaks) if peaks else None, None, "MiB"),
        _row("7. 4x the data vs 1x, time", "<= 4.2x", scaling.get("ratio_4x"),
             _at_most(scaling.get("ratio_4x"), 4.2), "x"),
        _row(f"8a. Incident step of the full run ({full.get('incidents', '?')} incidents; "
             "judged from 1,000)", "<= 60 s", full.get("incidents_s"),
             None if (full.get("incidents") or 0) < 1000
             else _at_most(full.get("incidents_s"), 60.0), "s"),
        _row("8b. Reports rewritten by the latency run (one incident changed)",
             "= incidents changed", reports,
             None if reports is None else reports == late.get("incidents_changed"), ""),
    ]
