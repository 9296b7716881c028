"""``spark-submit.sh pipeline`` killed with SIGKILL at seeded points, then run again, in a chain.

A kill point is a phase, a number of Delta commits and a delay: the run is killed ``delay``
seconds after ``commits`` commits to the tables of that phase or a later one have landed in this
run (0 commits: once the run has printed its first line, so the session is up and ingest has
begun). Counting commits rather than seconds puts the kills in the same phases on a fast or a
loaded machine; the seeded delay moves each kill to a random point between two commits. One kill
instead fires when the PagerDuty stand-in receives the run's first event, after PagerDuty took
it and before the ledger commit.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from jobs import lakehouse
from tests.support import background
from tests.support.fake_pagerduty import FakePagerDuty

ROOT = Path(__file__).resolve().parents[2]
PHASES = ("ingest", "detect", "incidents", "notify")
PHASE_TABLES = {
    "ingest": lakehouse.INGEST_TABLES,
    "detect": (lakehouse.ALERTS, lakehouse.DETECTION_RUNS, lakehouse.BASELINES),
    "incidents": (lakehouse.INCIDENTS, lakehouse.RESPONSE_METRICS),
    "notify": (lakehouse.DELIVERIES,),
}
PD_KEY = "R0UT1NGKEY0123456789abcdef012345"
POLL_SECONDS = 0.05
RUN_TIMEOUT = 1200
CREATION = f"{0:020d}.json"


@dataclass(frozen=True)
class KillPoint:
    """Kill ``delay`` s after ``commits`` commits of ``phase`` or later; or, with ``on_send``,
    when the destination receives the run's first request."""

    phase: str
    commits: int
    delay: float
    on_send: bool = False


def schedule(seed: int) -> list[KillPoint]:
    """Ten kill points in phase order: three in ingest, three in detect, two in incidents, two
    in notify: between PagerDuty's answer and its ledger commit, then between the PagerDuty and
    the OCSF destinations (each destination's ledger rows are one commit)."""
    rng = random.Random(seed)
    points = [KillPoint("ingest", 0, rng.uniform(0, 8))]
    points += [KillPoint("ingest", rng.randint(1, 5), rng.uniform(0, 2)) for _ in range(2)]
    points += [KillPoint("detect", rng.randint(1, 2), rng.uniform(0, 2)) for _ in range(3)]
    points += [KillPoint("incidents", 1, rng.uniform(0, 1)) for _ in range(2)]
    points += [KillPoint("notify", 0, 0.0, on_send=True), KillPoint("notify", 1, 0.0)]
    return points


@dataclass
class Run:
    """One pipeline run: where it was meant to die, whether it did, what it committed."""

    point: KillPoint | None
    returncode: int = 0
    commits: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    output: str = ""

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def summary(self) -> str:
        """One line: the kill point, the exit status, the commits per phase, wall and CPU time."""
        return (f"point={self.point} exit={self.returncode} commits={self.commits} "
                f"wall={self.seconds:.0f}s cpu={self.cpu_seconds:.0f}s")

    @property
    def phase(self) -> str:
        """Where the run died: notify for a kill on send, else the phase of the newest commit
        it made (``ingest`` before any)."""
        if self.point is not None and self.point.on_send:
            return "notify"
        done = [p for p in PHASES if self.commits.get(p)]
        return done[-1] if done else "ingest"


def commit_counts(lake: Path) -> dict[str, int]:
    """Delta commits per phase under ``lake``, the tables' creations (version 0) left out."""
    return {
        phase: sum(
            sum(1 for n in _listing(lake / t.name / "_delta_log")
                if n.endswith(".json") and n != CREATION)
            for t in tables
        )
        for phase, tables in PHASE_TABLES.items()
    }


def _listing(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def ocsf_dir(lake: Path) -> Path:
    """Where the OCSF destination of ``lake``'s runs writes its files."""
    return lake.with_name(f"{lake.name}-ocsf")


def pipeline_args(landing: Path, lake: Path, pd_url: str) -> list[str]:
    """The pipeline with two destinations: PagerDuty (HTTP), then OCSF JSON lines (files)."""
    return [str(ROOT / "spark-submit.sh"), "pipeline", "--env", "test",
            "--landing", str(landing), "--lakehouse", str(lake),
            "--set", "destinations.pd.type=pagerduty", "--set", f"destinations.pd.url={pd_url}",
            "--set", "destinations.pd.routing_key_env=PD_KEY",
            "--set", "destinations.pd.backoff_seconds=0.05",
            "--set", "destinations.ocsf.type=ocsf",
            "--set", f"destinations.ocsf.path={ocsf_dir(lake)}",
            "--set", "destinations.ocsf.format=jsonl"]


def run_pipeline(landing: Path, lake: Path, pd: FakePagerDuty, log: Path,
                 point: KillPoint | None) -> Run:
    """One ``spark-submit.sh pipeline`` run, killed (process group, SIGKILL) at ``point``."""
    env = {**os.environ, "PD_KEY": PD_KEY, "PYTHONUNBUFFERED": "1", "SPARK_DRIVER_MEMORY": "1g"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    before = commit_counts(lake)
    start = time.monotonic()
    with log.open("w") as out:
        proc = background.popen(pipeline_args(landing, lake, pd.url), cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    if point is not None and point.on_send:
        pd.server.kill_on_next_request(-proc.pid)
    run = Run(point)
    kill_at: float | None = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        now = commit_counts(lake)
        run.commits = {p: now[p] - before[p] for p in PHASES}
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            run.returncode, run.cpu_seconds = proc.returncode, _cpu(usage)
            break
        if point is not None and not point.on_send and kill_at is None and _reached(
            point, run.commits, log
        ):
            kill_at = time.monotonic() + point.delay
        if kill_at is not None and time.monotonic() >= kill_at:
            os.killpg(proc.pid, signal.SIGKILL)
        if time.monotonic() - start > RUN_TIMEOUT:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"the pipeline run did not end in {RUN_TIMEOUT} s:\n"
                                 + log.read_text()[-3000:])
        time.sleep(POLL_SECONDS)
    pd.server.faults.clear()  # an unused kill-on-send does not carry over to the next run
    run.seconds = time.monotonic() - start
    run.output = log.read_text()[-4000:]
    with (log.parent / "chain.txt").open("a") as summary:  # progress, readable while it runs
        summary.write(f"{log.stem}: {run.summary()}\n")
    return run


def _reached(point: KillPoint, commits: dict[str, int], log: Path) -> bool:
    if point.commits == 0:
        return any(line.startswith("run ") for line in log.read_text().splitlines())
    later = PHASES[PHASES.index(point.phase):]
    return sum(commits[p] for p in later) >= point.commits


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime
