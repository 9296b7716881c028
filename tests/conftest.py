"""One SparkSession per test run, built by the production factory with test settings."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from devtools.sample.cli import Summary, generate
from jobs.enrich import Enrichment
from jobs.runtime.config import load_config
from jobs.runtime.session import build_session
from tests.support import background
from tests.support.sample_files import files_by_key
from tests.support.sample_lake import SampleLake

# PySpark turns timestamps into naive datetimes in the process's local zone: make it UTC.
os.environ["TZ"] = "UTC"
time.tzset()
# Every JVM the suite starts (its own, spark-submit.sh and bench runs) uses the throughput
# collector: ingesting the hostile landing zone three times and the sample once in one JVM took
# 167 s of JVM CPU instead of 210 s with the default G1 (detect alone: no difference).
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:+UseParallelGC")
# Every Spark process the suite starts (its own session, spark-submit.sh children, the standalone
# cluster) binds to the loopback interface; conf/env/test.yml sets the driver's address too.
os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"

# Tests marked ``extended`` (the kill -9 chain, the time-zone run, the ingest fuzzer) cost more
# than make test's budget: they run when TRAILWARDEN_EXTENDED=1 is set, as .ci/run does.
EXTENDED_ENV = "TRAILWARDEN_EXTENDED"
SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"


JVM_USAGE = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def spark(request: pytest.FixtureRequest) -> Iterator[SparkSession]:
    session = build_session(load_config("test"), app_name="trailwarden-tests")
    yield session
    request.config.stash[JVM_USAGE] = jvm_usage(session)
    session.stop()


def jvm_usage(session: SparkSession) -> str:
    """The session JVM's CPU time, and the elapsed time its collectors and JIT compiler threads
    ran (summed over threads; on a busy machine that includes time waiting for a core)."""
    jvm = session._jvm
    stat = Path(f"/proc/{jvm.java.lang.ProcessHandle.current().pid()}/stat")
    if not stat.is_file():  # not Linux: no per-process CPU figure, no line
        return ""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    beans = jvm.java.lang.management.ManagementFactory
    gc = sum(b.getCollectionTime() for b in beans.getGarbageCollectorMXBeans()) / 1000
    jit = beans.getCompilationMXBean().getTotalCompilationTime() / 1000
    return (f"in-process JVM: {cpu:.0f} s CPU; garbage collection {gc:.0f} s, "
            f"JIT compilation {jit:.0f} s (elapsed)")


@pytest.fixture(scope="session")
def shared_real() -> Path:
    """``../shared/data/real`` beside the checkout; tests using it skip where it is absent."""
    if not SHARED_REAL.is_dir():
        pytest.skip(
            f"real AWS logs not found at {SHARED_REAL} (../shared is absent in a user's clone)"
        )
    return SHARED_REAL


@pytest.fixture(scope="session")
def enrichment(spark: SparkSession) -> Iterator[Enrichment]:
    """The shipped intel lists and ASN ranges, parsed once for the session (as a run does)."""
    value = Enrichment.build(spark)
    yield value
    value.release()


@pytest.fixture(scope="session")
def sample_lake(
    spark: SparkSession, enrichment: Enrichment, tmp_path_factory: pytest.TempPathFactory
) -> SampleLake:
    """The sample through the pipeline, shared by the end-to-end modules (stages run on first
    use)."""
    return SampleLake(spark, tmp_path_factory.mktemp("sample-lake"), enrichment)


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Summary]:
    """The sample landing zone generated once, and what generating it wrote: shared by the
    ``test_sample_*`` modules, which only read it."""
    root = tmp_path_factory.mktemp("landing")
    return root, generate(root)


@pytest.fixture(scope="session")
def sample_files(sample_landing: tuple[Path, Summary]) -> dict[str, Path]:
    """The sample landing zone's files by key."""
    return files_by_key(sample_landing[0])


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the extended tests unless asked for; start the background jobs of the selected
    modules; their tests run last."""
    if not os.environ.get(EXTENDED_ENV):
        extended = [i for i in items if i.get_closest_marker("extended")]
        if extended:
            config.hook.pytest_deselected(items=extended)
            items[:] = [i for i in items if not i.get_closest_marker("extended")]
    background.start(config, items)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    usage = terminalreporter.config.stash.get(JVM_USAGE, None)
    if usage:
        terminalreporter.write_sep("=", usage)
    lines = background.report(terminalreporter.config)
    if lines:
        terminalreporter.write_sep("=", "background jobs (wall time, beside the in-process tests)")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(background.STASH, None)
    if started is not None:
        started.stop()
