"""Work the suite runs in other processes, started when the suite is collected and done one job
at a time in a background thread, so it runs beside the in-process tests; the tests that check a
job's result run last and wait for it.

A test module registers its job with :func:`job`; ``tests/conftest.py`` starts the jobs of the
selected modules, moves those modules' tests to the end and stops everything at exit.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

Job = Callable[[Path], Any]
_JOBS: dict[str, Job] = {}  # test module file name -> job(work_dir) -> result
_PROCS: list[subprocess.Popen[Any]] = []


def job(module_file: str) -> Callable[[Job], Job]:
    """Register ``fn(work_dir)`` as the background job of test module ``module_file``."""

    def register(fn: Job) -> Job:
        _JOBS[module_file] = fn
        return fn

    return register


def popen(args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` whose process is killed if the suite stops before it ends."""
    proc = subprocess.Popen(args, **kwargs)
    _PROCS.append(proc)
    return proc


class Background:
    """The started jobs: one worker thread, a future and a work directory per job."""

    def __init__(self, modules: list[str]) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="background")
        self.dirs = {
            m: Path(tempfile.mkdtemp(prefix=f"trailwarden-{Path(m).stem}-")) for m in modules
        }
        self.seconds: dict[str, float] = {}
        self.futures: dict[str, Future[Any]] = {
            m: self.pool.submit(self._timed, m) for m in modules
        }

    def _timed(self, module_file: str) -> Any:
        start = time.monotonic()
        try:
            return _JOBS[module_file](self.dirs[module_file])
        finally:
            self.seconds[module_file] = time.monotonic() - start

    def result(self, module_file: str, timeout: float = 1800) -> Any:
        return self.futures[module_file].result(timeout=timeout)

    def stop(self) -> None:
        """Cancel jobs not started, kill running processes, remove the work directories."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in _PROCS:
            if proc.poll() is None:
                proc.kill()
        self.pool.shutdown(wait=True)
        for d in self.dirs.values():
            shutil.rmtree(d, ignore_errors=True)


STASH = pytest.StashKey[Background]()


def start(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the jobs of the selected modules and move their tests to the end of ``items``."""
    modules = sorted({i.path.name for i in items} & _JOBS.keys())
    if modules and not config.option.collectonly:
        items[:] = [i for i in items if i.path.name not in modules] + [
            i for i in items if i.path.name in modules
        ]
        config.stash[STASH] = Background(modules)


def report(config: pytest.Config) -> list[str]:
    """One line per finished background job with its wall time (for the terminal summary)."""
    started = config.stash.get(STASH, None)
    if started is None:
        return []
    by_time = sorted(started.seconds.items(), key=lambda item: -item[1])
    return [f"{seconds:7.1f}s background {module}" for module, seconds in by_time]


def result(request: pytest.FixtureRequest, module_file: str, timeout: float = 1800) -> Any:
    """The result of ``module_file``'s job, waiting up to ``timeout`` seconds for it (its
    exception is raised here)."""
    return request.config.stash[STASH].result(module_file, timeout)
