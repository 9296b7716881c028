"""The benchmark's landing zones: generated once per scale and cached, plus the incremental split.

``devtools/bench/data/scale-<s>/landing`` holds what ``devtools.sample.cli.generate`` writes (S3 layout);
``READY.json`` beside it marks a complete generation and records its counts.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.ingest.landing import classify
from jobs.runtime.config import PROJECT_ROOT
from jobs.sources import CLOUDTRAIL, SOURCES, VPCFLOW

log = logging.getLogger("devtools.bench.datasets")

DATA_ROOT = PROJECT_ROOT / "devtools" / "bench" / "data"
OUT_ROOT = PROJECT_ROOT / "devtools" / "bench" / "out"
_DELIVERY_TIME = re.compile(r"_(\d{8}T\d{4,6}Z)_")


def scale_label(scale: float, hours: tuple[int, int] | None = None) -> str:
    """``1.0`` -> ``1``, ``0.01`` -> ``0.01``, and ``0.001-h14-15`` for delivery hours 14 to 15
    only: the name of a landing zone in paths and tables."""
    return f"{scale:g}" + (f"-h{hours[0]}-{hours[1]}" if hours else "")


@dataclass(frozen=True)
class Landing:
    """A generated landing zone and what the generator says it wrote."""

    scale: float
    root: Path
    counts: dict[str, dict[str, int]]  # source -> {"files": n, "records": n}
    generate_s: float | None  # seconds to generate, None when reused from the cache

    def files(self, source: str) -> list[Path]:
        """The files of ``source`` (``cloudtrail``, ``vpcflow``, ...), sorted."""
        return sorted(p for p in _walk(self.root) if classify(str(p), SOURCES) == source)


def _walk(root: Path) -> list[Path]:
    out = []
    for dirpath, _, names in os.walk(root):
        out += [Path(dirpath) / n for n in names if not n.startswith((".", "_"))]
    return out


def ensure_landing(
    scale: float, workers: int, data_root: Path = DATA_ROOT, hours: tuple[int, int] | None = None
) -> Landing:
    """The landing zone for ``scale`` (only the files delivered in ``hours`` when given): reused
    when ``READY.json`` says it is complete."""
    from devtools.sample.cli import generate

    label = scale_label(scale, hours)
    base = data_root / f"scale-{label}"
    marker, root = base / "READY.json", base / "landing"
    if marker.is_file() and root.is_dir():
        return Landing(scale, root, json.loads(marker.read_text())["counts"], None)
    partial = base / "landing.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    base.mkdir(parents=True, exist_ok=True)
    log.info("generating the scale-%s landing zone under %s", label, root)
    began = time.perf_counter()
    # Native deliveries only: the DuckDB baselines and the floor read CloudTrail JSON and flow
    # logs, not Security Lake's OCSF Parquet nor Firehose's CloudWatch Logs envelopes.
    summary = generate(partial, scale=scale, workers=workers, hours=hours, security_lake=False,
                       firehose=False)
    took = time.perf_counter() - began
    partial.rename(root)
    counts = {
        name: {"files": getattr(summary, name).files, "records": getattr(summary, name).records}
        for name in ("cloudtrail", "cloudtrail_digest", "vpcflow", "guardduty")
    }
    marker.write_text(json.dumps({"scale": scale, "counts": counts, "generate_s": took}, indent=2))
    return Landing(scale, root, counts, took)


def newest(files: list[Path], fraction: float) -> list[Path]:
    """The ``fraction`` (at least one file) of ``files`` delivered last, by the delivery time
    in the file name (``..._20261120T1415Z_...``), ties broken by path."""
    if not files:
        return []
    count = max(1, math.ceil(len(files) * fraction))

    def key(p: Path) -> tuple[str, str]:
        match = _DELIVERY_TIME.search(p.name)
        return (match.group(1) if match else "", str(p))

    return sorted(files, key=key)[-count:]


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@dataclass(frozen=True)
class IncrementalSplit:
    """A landing tree holding all but the newest ``fraction`` of CloudTrail and flow-log files,
    and the held-out files, to be added by :meth:`add_new`."""

    root: Path
    held_out: list[tuple[Path, Path]]  # (source file, its place in root)
    counts: dict[str, Any]

    def add_new(self) -> None:
        for src, dst in self.held_out:
            _link(src, dst)


def incremental_split(landing: Landing, work: Path, fraction: float = 0.01) -> IncrementalSplit:
    """Build ``work/landing`` (hard links) without the newest ``fraction`` of the files."""
    root = work / "landing"
    shutil.rmtree(root, ignore_errors=True)
    held = {p for source in (CLOUDTRAIL.name, VPCFLOW.name) for p in newest(landing.files(source), fraction)}
    everything = _walk(landing.root)
    for path in everything:
        if path not in held:
            _link(path, root / path.relative_to(landing.root))
    held_out = [(p, root / p.relative_to(landing.root)) for p in sorted(held)]
    counts = {
        "files_total": len(everything),
        "files_new": len(held_out),
        "bytes_total": sum(p.stat().st_size for p in everything),
        "bytes_new": sum(p.stat().st_size for p, _ in held_out),
    }
    return IncrementalSplit(root, held_out, counts)
