"""``python -m devtools.bench``: measure trailwarden, DuckDB (lean and mirror) and the floor on the
same landing zone, then the incremental, nothing-new and latency runs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.bench import report
from devtools.bench.datasets import DATA_ROOT, OUT_ROOT, ensure_landing, scale_label
from devtools.bench.machine import describe, load_average
from devtools.bench.runner import (
    MeasurementFailed,
    run_duckdb,
    run_floor,
    run_incremental,
    run_trailwarden,
    source_files,
)
from devtools.bench.targets import targets
from devtools.sample.cli import hour_range
from jobs.runtime.config import PROJECT_ROOT

log = logging.getLogger("devtools.bench")

DOCS = PROJECT_ROOT / "docs" / "benchmarks.md"
SCALING_FACTORS = (1, 2, 4)
BUSY_LOAD = 3.0
PREAMBLE = "# Benchmarks\n\nRegenerate with `make bench SCALE=1` (add `BENCH_ARGS=--scaling` for 1x/2x/4x).\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.bench", description=__doc__)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="landing-zone scale (1: ~1M CloudTrail events, ~5M flow records)",
    )
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="also run 2x and 4x the scale and report the time ratios (slow)",
    )
    parser.add_argument(
        "--no-incremental",
        dest="incremental",
        action="store_false",
        help="skip the incremental, nothing-new and latency runs (four spark-submit processes)",
    )
    parser.add_argument(
        "--cores",
        type=int,
        default=os.cpu_count() or 1,
        help="cores given to DuckDB and the floor (Spark uses local[*])",
    )
    parser.add_argument(
        "--hours",
        type=hour_range,
        help="generate only the files delivered in these UTC hours, e.g. 14 or 13-15 (smoke runs)",
    )
    parser.add_argument(
        "--env",
        help="configuration overlay for trailwarden's runs (conf/env/ENV.yml; default: none)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data")
    parser.add_argument("--data", type=Path, default=DATA_ROOT, help="landing-zone cache")
    parser.add_argument("--out", type=Path, default=OUT_ROOT, help="working files and results.json")
    parser.add_argument(
        "--docs",
        type=Path,
        default=DOCS,
        help="Markdown file whose generated block is rewritten ('-': none)",
    )
    return parser.parse_args(argv)


def _scaling(
    args: argparse.Namespace, base: dict[str, Any], base_counts: dict[str, Any]
) -> dict[str, Any]:
    runs = []
    for factor in SCALING_FACTORS:
        scale = args.scale * factor
        if factor == 1:
            result, counts = base, base_counts
        else:
            landing = ensure_landing(scale, args.workers, args.data, args.hours)
            result = run_trailwarden(
                landing, args.out / f"scale-{scale_label(scale, args.hours)}", args.cores,
                env=args.env,
            )
            counts = landing.counts
        runs.append(
            {
                "factor": factor,
                "scale": scale_label(scale, args.hours),
                "cloudtrail_records": counts["cloudtrail"]["records"],
                "vpcflow_records": counts["vpcflow"]["records"],
                "pipeline_s": result["pipeline_wall_s"],
                "stages": {s["name"]: s["wall_s"] for s in result["stages"]},
            }
        )
    first = runs[0]
    for r in runs:
        r["time_ratio"] = round(r["pipeline_s"] / first["pipeline_s"], 2)
        r["data_ratio"] = round(
            (r["cloudtrail_records"] + r["vpcflow_records"])
            / (first["cloudtrail_records"] + first["vpcflow_records"]),
            2,
        )
    return {"runs": runs, "ratio_4x": runs[-1]["time_ratio"], "ratio_2x": runs[1]["time_ratio"]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement of one invocation; returns the results document."""
    machine = describe()
    landing = ensure_landing(args.scale, args.workers, args.data, args.hours)
    work = args.out / f"scale-{scale_label(args.scale, args.hours)}"
    files = source_files(landing)
    tw = run_trailwarden(landing, work, args.cores, env=args.env)
    lean = run_duckdb(files, work, args.cores, "duckdb-lean")
    duck = run_duckdb(files, work, args.cores)
    floor = run_floor(files, work, args.cores)
    results: dict[str, Any] = {
        "scale": args.scale,
        "scale_label": scale_label(args.scale, args.hours),
        "env": args.env,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine,
        "landing": {
            "root": str(landing.root),
            "counts": landing.counts,
            "generate_s": landing.generate_s,
        },
        "trailwarden": tw,
        "duckdb_lean": lean,
        "duckdb": duck,
        "floor": floor,
    }
    results["comparison"] = report.comparison(tw, duck, floor, lean)
    results["row_counts"] = report.row_counts(tw, duck, lean)
    results["incremental"] = (
        run_incremental(landing, work / "incremental", env=args.env) if args.incremental else None
    )
    results["scaling"] = _scaling(args, tw, landing.counts) if args.scaling else None
    results["load_average_at_end"] = load_average()
    busiest = max(machine["load_average_at_start"][0], results["load_average_at_end"][0])
    if busiest > BUSY_LOAD:
        results["load_warning"] = (
            f"Measured on a busy machine (1-minute load average up to {busiest:g} on "
            f"{machine['cores']} cores): absolute times are inflated; ratios are less affected."
        )
    results["targets"] = targets(results)
    return results


def _print(results: dict[str, Any]) -> None:
    out = sys.stdout
    print(f"\ntrailwarden bench, scale {results['scale_label']}", file=out)
    for system in ("trailwarden", "duckdb_lean", "duckdb", "floor"):
        for s in (results.get(system) or {}).get("stages", []):
            rate = s.get("records_per_s_per_core")
            print(
                f"  {system:<12}{s['name']:<26}{s['wall_s']:>8.2f} s wall {s['cpu_s']:>8.2f} s CPU"
                f"{'' if rate is None else f'{rate:>12,.0f} rec/s/core'}"
                f"   JVM peak {s.get('jvm_peak_mb') or 0:>6.0f} MiB, Python peak "
                f"{s.get('python_peak_mb') or 0:>5.0f} MiB",
                file=out,
            )
    for src, c in results["comparison"].items():
        if src != "detect":
            print(
                f"  ratio {src:<11} trailwarden/lean DuckDB {c['trailwarden_vs_lean']}  "
                f"trailwarden/mirror DuckDB {c['trailwarden_vs_duckdb']}  "
                f"trailwarden/floor {c['trailwarden_vs_floor']}",
                file=out,
            )
    for table, c in results["row_counts"].items():
        print(
            f"  rows  {table:<26} trailwarden {c['trailwarden']}  DuckDB mirror {c['duckdb']}  "
            f"lean {c['lean']}  equal {c['equal']}",
            file=out,
        )
    inc = results.get("incremental")
    if inc:
        print(
            f"  incremental: full {inc['full']['wall_s']} s, "
            f"1% new {inc['incremental']['wall_s']} s, "
            f"ratio {inc['ratio']}; nothing new {inc['nothing_new']['wall_s']} s; "
            f"new delivery {inc['latency']['wall_s']} s, alert after "
            f"{inc['latency'].get('alert_s')} s",
            file=out,
        )
    if results.get("scaling"):
        for r in results["scaling"]["runs"]:
            print(
                f"  scaling x{r['factor']}: {r['pipeline_s']} s (x{r['time_ratio']} time, "
                f"x{r['data_ratio']} data)",
                file=out,
            )
    for t in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not judged"}[t["met"]]
        print(
            f"  target {t['name']:<62} {t['target']:<8} measured {t['measured']} {t['unit']}"
            f"  {verdict}",
            file=out,
        )
    if results.get("load_warning"):
        print("  " + results["load_warning"], file=out)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    args = parse_args(argv)
    try:
        results = run(args)
    except MeasurementFailed as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    if str(args.docs) != "-":
        report.write_markdown(args.docs, report.markdown(results), PREAMBLE)
    _print(results)
    print(f"\nwrote {path}" + ("" if str(args.docs) == "-" else f" and {args.docs}"))
    return 0
