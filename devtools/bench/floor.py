"""The floor: gzip decompression plus parsing with the fastest parser on PyPI (orjson), on all
cores, writing nothing. No pipeline can read these files faster than this by much.

CloudTrail: decompress and ``orjson.loads`` each file, count ``Records``. Flow logs: decompress,
split into lines and each line into its fields.
"""

from __future__ import annotations

import gzip
import multiprocessing
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

from devtools.bench.measure import Probe, children_cpu_seconds


def _cloudtrail(path: str) -> int:
    doc = orjson.loads(gzip.decompress(Path(path).read_bytes()))
    records = doc.get("Records") if isinstance(doc, dict) else None
    return len(records) if isinstance(records, list) else 0


def _vpcflow(path: str) -> int:
    if path.endswith(".parquet"):
        return int(pq.read_metadata(path).num_rows)
    lines = gzip.decompress(Path(path).read_bytes()).splitlines()
    return sum(1 for line in lines[1:] if line.split())


def _parse_all(kind: str, files: list[str], cores: int) -> int:
    fn = _cloudtrail if kind == "cloudtrail" else _vpcflow
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(cores) as pool:
        total = sum(pool.imap_unordered(fn, files, chunksize=max(1, len(files) // (cores * 16))))
        pool.close()
        pool.join()
    return total


def run(cloudtrail: list[str], vpcflow: list[str], cores: int) -> dict[str, Any]:
    """Parse both sources; CPU includes the pool's worker processes."""
    import platform

    probe = Probe()
    stages = []
    for kind, files in (("cloudtrail", cloudtrail), ("vpcflow", vpcflow)):
        before = children_cpu_seconds()
        running = probe.start(f"parse {kind}")
        records = _parse_all(kind, files, cores)
        figures = running.stop()
        figures.cpu_s += children_cpu_seconds() - before
        stages.append(figures.with_records(records, cores).as_dict())
    return {
        "stages": stages,
        "parser": f"orjson {orjson.__version__} + zlib (CPython {platform.python_version()})",
    }
