"""One in-process pipeline run (ingest, then detect) with per-stage figures.

Runs in its own process (``python -m devtools.bench.worker trailwarden ...``) so the JVM starts fresh.
The real ``run_ingest`` and ``run_detections`` run unchanged; the stages inside them are timed
by wrapping the functions they call (``prepare`` and ``write_batch`` per source, the listing,
the manifest read, and the construction of Spark's file index over the new files).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.bench.eventlog import find_log, summarize
from devtools.bench.measure import Probe, StageFigures

log = logging.getLogger("devtools.bench.trailwarden")

# (module, function, stage label from the call's arguments, reset the memory peak).
_DISCOVERY = "discovery"


def _label_prepare(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    source = kwargs.get("source", args[1] if len(args) > 1 else None)
    return f"prepare {getattr(source, 'name', '?')}"


def _label_write(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    batch = kwargs.get("batch", args[2] if len(args) > 2 else None)
    return f"write {getattr(getattr(batch, 'source', None), 'name', '?')}"


def _label_quality(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return f"quality {kwargs.get('table', args[1] if len(args) > 1 else '?')}"


def _fixed(label: str) -> Callable[[tuple[Any, ...], dict[str, Any]], str]:
    return lambda args, kwargs: label


WRAPPED: list[tuple[str, str, Callable[[tuple[Any, ...], dict[str, Any]], str], bool]] = [
    ("jobs.ingest.run", "discover", _fixed(f"{_DISCOVERY}: list landing"), False),
    ("jobs.ingest.run", "ingested_paths", _fixed(f"{_DISCOVERY}: read manifest"), False),
    *[(f"jobs.sources.{name}", "read_whole_files", _fixed(f"{_DISCOVERY}: spark file index"), False)
      for name in ("json_records", "vpcflow")],
    ("jobs.sources.vpcflow", "read_parquet_flows", _fixed(f"{_DISCOVERY}: spark file index"), False),
    ("jobs.ingest.run", "prepare", _label_prepare, True),
    ("jobs.ingest.run", "validate_batch", _label_quality, False),
    ("jobs.ingest.run", "write_batch", _label_write, True),
    ("jobs.detect.run", "snapshot", _fixed("detect: snapshots"), False),
    ("jobs.detect.run", "build_views", _fixed("detect: build views"), False),
    ("jobs.detect.run", "merge_alerts", _fixed("detect: merge alerts"), False),
    ("jobs.detect.baselines", "merge_baselines", _fixed("detect: merge baselines"), False),
    ("jobs.detect.run", "_record_runs", _fixed("detect: record runs"), False),
]


class Phases:
    """Collects the figures of the wrapped calls, in call order."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.calls: list[StageFigures] = []
        self.missing: list[str] = []

    def install(self) -> None:
        import importlib

        for module_name, attr, label, reset in WRAPPED:
            module = importlib.import_module(module_name)
            original = getattr(module, attr, None)
            if original is None:
                self.missing.append(f"{module_name}.{attr}")
                continue
            setattr(module, attr, self._wrap(original, label, reset))

    def _wrap(
        self,
        fn: Callable[..., Any],
        label: Callable[[tuple[Any, ...], dict[str, Any]], str],
        reset: bool,
    ) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            running = self.probe.start(label(args, kwargs), reset)
            try:
                return fn(*args, **kwargs)
            finally:
                self.calls.append(running.stop())

        return wrapper

    def total(self, name: str, prefix: str) -> StageFigures | None:
        """The calls whose name starts with ``prefix``, summed (peaks: the maximum)."""
        calls = [c for c in self.calls if c.name.startswith(prefix)]
        if not calls:
            return None

        def peak(values: list[float | None]) -> float | None:
            known = [v for v in values if v is not None]
            return max(known) if known else None

        return StageFigures(
            name=name,
            wall_s=sum(c.wall_s for c in calls),
            cpu_s=sum(c.cpu_s for c in calls),
            python_cpu_s=sum(c.python_cpu_s for c in calls),
            jvm_cpu_s=sum(c.jvm_cpu_s or 0.0 for c in calls),
            python_peak_mb=peak([c.python_peak_mb for c in calls]),
            jvm_peak_mb=peak([c.jvm_peak_mb for c in calls]),
            peak_is_cumulative=any(c.peak_is_cumulative for c in calls),
        )


def _bench_overrides(landing: str, lakehouse: str, eventlog: Path) -> list[str]:
    root = Path(__file__).resolve().parents[2]
    return [
        f"landing={landing}",
        f"lakehouse={lakehouse}",
        # What spark-submit.sh passes on its command line, for a plain Python driver.
        "spark.properties.spark.driver.memory=" + os.environ.get("SPARK_DRIVER_MEMORY", "4g"),
        "spark.properties.spark.driver.extraJavaOptions="
        f"-Dlog4j2.configurationFile=file:{root}/conf/log4j2.properties",
        "spark.properties.spark.eventLog.enabled=true",
        f"spark.properties.spark.eventLog.dir=file:{eventlog}",
        "spark.properties.spark.eventLog.compress=false",
        "spark.properties.spark.eventLog.rolling.enabled=false",
        "spark.properties.spark.ui.enabled=false",
    ]


_DAY = re.compile(r"event_date=(\d{4}-\d{2}-\d{2})")


def output_files(spark: Any, lakehouse: str) -> dict[str, dict[str, int]]:
    """Data files of each table's current snapshot, per ``event_date`` partition."""
    from delta.tables import DeltaTable

    from jobs.lakehouse import ALERTS, SILVER

    out: dict[str, dict[str, int]] = {}
    for table in [*SILVER, ALERTS]:
        path = table.path(lakehouse)
        if not DeltaTable.isDeltaTable(spark, path):
            continue
        per_day: dict[str, int] = defaultdict(int)
        for f in spark.read.format("delta").load(path).inputFiles():
            match = _DAY.search(f)
            per_day[match.group(1) if match else "all"] += 1
        out[table.name] = dict(sorted(per_day.items()))
    return out


def table_counts(spark: Any, lakehouse: str) -> dict[str, int]:
    from jobs.lakehouse import ALERTS, QUARANTINE, SILVER

    counts = {}
    for table in [*SILVER, QUARANTINE, ALERTS]:
        try:
            counts[table.name] = table.read(spark, lakehouse).count()
        except Exception:  # noqa: BLE001 - a table this run did not create
            continue
    return counts


def run(
    landing: str, lakehouse: str, work: Path, cores: int, detect: bool = True,
    env: str | None = None,
) -> dict[str, Any]:
    """Run ingest (and detect) over ``landing`` into a fresh ``lakehouse`` with the configuration
    overlay ``env`` (none: the defaults); return the figures."""
    os.environ["TZ"] = "UTC"
    time.tzset()
    from jobs.ingest.run import run_ingest
    from jobs.runtime.cli import new_run_id
    from jobs.runtime.config import load_config
    from jobs.runtime.session import build_session

    eventlog = work / "eventlog"
    eventlog.mkdir(parents=True, exist_ok=True)
    conf = load_config(env, _bench_overrides(landing, lakehouse, eventlog))
    probe = Probe()
    phases = Phases(probe)
    phases.install()

    started = probe.start("session start")
    spark = build_session(conf, "trailwarden-bench")
    probe.jvm_pid = int(spark._jvm.java.lang.ProcessHandle.current().pid())
    session = started.stop()

    running = probe.start("ingest")
    accounting = run_ingest(spark, conf, new_run_id())
    ingest = running.stop()
    # prepare/write reset the peaks when they start: the ingest peak is the largest of theirs.
    inner = [c for c in phases.calls if c.name.startswith(("prepare ", "write "))]
    for attr in ("jvm_peak_mb", "python_peak_mb"):
        values = [v for v in [getattr(ingest, attr)] + [getattr(c, attr) for c in inner] if v]
        setattr(ingest, attr, max(values) if values else None)
    records = {a.source: a.records_read for a in accounting}
    ingest.with_records(sum(records.values()), cores)
    ingest.detail = {"accounting": [vars(a) for a in accounting]}

    stages = [session, ingest]
    for source in ("cloudtrail", "vpcflow", "guardduty"):
        prep = phases.total("", f"prepare {source}")
        write = phases.total("", f"write {source}")
        if prep is None or write is None:
            continue
        figures = phases.total(f"ingest {source}", f"prepare {source}")
        assert figures is not None
        for attr in ("wall_s", "cpu_s", "python_cpu_s", "jvm_cpu_s"):
            setattr(figures, attr, getattr(prep, attr) + getattr(write, attr))
        figures.jvm_peak_mb = max(
            x for x in (prep.jvm_peak_mb, write.jvm_peak_mb, 0.0) if x is not None
        )
        figures.detail = {"prepare_s": round(prep.wall_s, 3), "write_s": round(write.wall_s, 3)}
        quality = phases.total("", f"quality {source}")
        if quality is not None:
            figures.detail["quality_s"] = round(quality.wall_s, 3)
        stages.append(figures.with_records(records.get(source), cores))

    discovery = phases.total("ingest discovery", _DISCOVERY)
    if discovery is not None:
        discovery.detail = {
            c.name.split(": ", 1)[1]: round(
                sum(x.wall_s for x in phases.calls if x.name == c.name), 3
            )
            for c in phases.calls
            if c.name.startswith(_DISCOVERY)
        }
        discovery.detail["share_of_ingest"] = round(discovery.wall_s / ingest.wall_s, 4)
        stages.append(discovery)

    summary: dict[str, Any] = {}
    if detect:
        from jobs.detect.run import run_detections
        from jobs.enrich import Enrichment

        mark = len(phases.calls)
        running = probe.start("detect")
        result = run_detections(spark, conf, new_run_id(), Enrichment.of(spark, conf))
        figures = running.stop()
        figures.detail = {
            c.name.removeprefix("detect: "): round(c.wall_s, 3) for c in phases.calls[mark:]
        }
        summary = {
            "detections": result.detections,
            "windows": result.windows,
            "alerts": result.alerts,
            "by_detection": dict(result.by_detection),
        }
        stages.append(figures)

    counts = table_counts(spark, lakehouse)
    if detect:
        scanned = sum(
            counts.get(t, 0)
            for t in ("silver/cloudtrail_events", "silver/vpc_flows", "silver/guardduty_findings")
        )
        stages[-1].with_records(scanned, cores)
    files = output_files(spark, lakehouse)
    versions = {"spark": spark.version}
    spark.stop()
    found = find_log(eventlog)
    return {
        "stages": [s.as_dict() for s in stages],
        "pipeline_wall_s": round(ingest.wall_s + (stages[-1].wall_s if detect else 0.0), 3),
        "tables": counts,
        "output_files": files,
        "detect": summary,
        "eventlog": summarize(found) if found else None,
        "unwrapped": phases.missing,
        "versions": versions,
    }
