"""Wall time, CPU time and peak resident memory of this process and, optionally, a JVM child.

CPU and peak memory come from ``/proc`` (Linux); elsewhere the JVM figures are ``None``.
Peak memory per stage is measured by resetting the kernel's high-water mark
(``/proc/<pid>/clear_refs``) when a stage starts; where that is not allowed, the figure is the
peak since the process started (``peak_is_cumulative``).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of ``pid`` in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak(pid: int) -> bool:
    """Reset ``pid``'s peak RSS to its current RSS; False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU of waited-for child processes (and their waited-for descendants)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class StageFigures:
    """What one stage cost. ``records`` is what it processed (for records/s/core)."""

    name: str
    wall_s: float
    cpu_s: float
    python_cpu_s: float
    jvm_cpu_s: float | None
    python_peak_mb: float | None
    jvm_peak_mb: float | None
    peak_is_cumulative: bool
    records: int | None = None
    records_per_s_per_core: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def with_records(self, records: int | None, cores: int) -> StageFigures:
        self.records = records
        if records is not None and self.wall_s > 0:
            self.records_per_s_per_core = round(records / self.wall_s / cores, 1)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class Probe:
    """Measures stages of this process and of an optional JVM (set ``jvm_pid`` once known)."""

    def __init__(self, jvm_pid: int | None = None) -> None:
        self.jvm_pid = jvm_pid

    def _pids(self) -> list[int]:
        return [os.getpid()] + ([self.jvm_pid] if self.jvm_pid else [])

    def start(self, name: str, reset: bool = True) -> _Running:
        cumulative = not all(reset_peak(p) for p in self._pids()) if reset else True
        return _Running(self, name, cumulative)


class _Running:
    def __init__(self, probe: Probe, name: str, cumulative: bool) -> None:
        self.probe, self.name, self.cumulative = probe, name, cumulative
        self.wall = time.perf_counter()
        self.py_cpu = self_cpu_seconds()
        self.jvm_pid = probe.jvm_pid
        self.jvm_cpu = process_cpu_seconds(self.jvm_pid) if self.jvm_pid else None

    def stop(self) -> StageFigures:
        wall = time.perf_counter() - self.wall
        py_cpu = self_cpu_seconds() - self.py_cpu
        jvm_pid = self.probe.jvm_pid
        jvm_now = process_cpu_seconds(jvm_pid) if jvm_pid else None
        if jvm_now is not None:
            # A JVM that started during the stage counts from zero.
            jvm_cpu: float | None = jvm_now - (self.jvm_cpu if self.jvm_pid == jvm_pid else 0.0)
        else:
            jvm_cpu = None
        return StageFigures(
            name=self.name,
            wall_s=wall,
            cpu_s=py_cpu + (jvm_cpu or 0.0),
            python_cpu_s=py_cpu,
            jvm_cpu_s=jvm_cpu,
            python_peak_mb=peak_rss_mb(os.getpid()),
            jvm_peak_mb=peak_rss_mb(jvm_pid) if jvm_pid else None,
            peak_is_cumulative=self.cumulative,
        )
