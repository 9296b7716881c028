"""What the benchmark ran on: cores, memory, CPU model, load and software versions."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else "java"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    except OSError:
        return "not found"
    first = (out.stderr or out.stdout).strip().splitlines()
    return first[0] if first else "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe() -> dict[str, Any]:
    """The machine and software the figures were measured with."""
    from jobs.runtime.jars import DELTA_VERSION

    java = _java()
    match = re.search(r'version "([^"]+)"', java)
    return {
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cpu_model": _cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "java": match.group(1) if match else java,
        "spark": _version("pyspark"),
        "delta": f"delta-spark {_version('delta-spark')} (jar {DELTA_VERSION})",
        "duckdb": _version("duckdb"),
        "orjson": _version("orjson"),
        "load_average_at_start": load_average(),
    }
