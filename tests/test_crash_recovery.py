"""kill -9 at ten seeded points across ingest, detect, incidents and notify, each followed by a
rerun: the tables end with the rows of an uninterrupted run, the run tables hold no doubles, and
PagerDuty holds each incident once.

Design (a background job, ``tests/support/background.py``; it runs beside the in-process tests):
one hour of the sample (the attack's hour, ~170 files) is the landing zone. A reference lakehouse
gets one uninterrupted ``spark-submit.sh pipeline`` run. A second lakehouse gets a chain: a run
killed at the first point of ``kill_chain.schedule(SEED)``, a rerun killed at the next, ... ten
kills, then one run left to finish. Both notify a PagerDuty stand-in on 127.0.0.1 and write OCSF
files. The tests then compare every table of the two lakehouses with the in-process session
(order-insensitive multisets of rows, ``VOLATILE`` columns left out), check the run-scoped tables
for doubles, and compare what the destinations hold."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import MapType

from jobs import lakehouse
from jobs.runtime.delta import Table
from tests.support import background
from tests.support.fake_pagerduty import FakePagerDuty
from tests.support.kill_chain import PD_KEY, PHASES, ROOT, Run, ocsf_dir, run_pipeline, schedule

pytestmark = pytest.mark.extended  # CI only: TRAILWARDEN_EXTENDED=1 (tests/conftest.py)

SEED = 19
# Columns that hold wall-clock times, run ids or Delta versions: they differ between any two
# runs, killed or not. Everything else must match the uninterrupted run exactly.
VOLATILE = {
    "*": {"run_id", "ingested_at", "quarantined_at"},
    "gold/alerts": {"created_at", "updated_at"},
    "gold/baselines/first_seen": {"updated_at"},
    "gold/incidents": {"detected_at", "created_at", "updated_at"},
}
# Tables whose rows belong to one run (accounting, checks, evaluations, metrics, deliveries):
# compared by the no-doubles rules of the tests below, not row for row.
# _system/discovery_runs only exists for an S3 landing zone.
RUN_SCOPED = {lakehouse.INGEST_RUNS, lakehouse.DQ_RESULTS, lakehouse.DETECTION_RUNS,
              lakehouse.DETECTION_HEALTH, lakehouse.RESPONSE_METRICS, lakehouse.DELIVERIES,
              lakehouse.INCIDENT_RUNS, lakehouse.DISCOVERY_RUNS}
COMPARED = [t for t in lakehouse.TABLES if t not in RUN_SCOPED]


@dataclass(frozen=True)
class Chain:
    """The reference and the chain: their lakehouses, runs and what PagerDuty holds."""

    reference_lake: Path
    lake: Path
    reference: Run
    runs: list[Run]
    final: Run
    reference_alerts: dict[str, str]
    alerts: dict[str, str]
    sent: list[str]
    seconds: float
    cpu_seconds: float


@background.job("test_crash_recovery.py")
def kill_chain(tmp: Path) -> Chain:
    """The reference run, ten killed runs in a chain, and the run that finishes."""
    start = time.monotonic()
    landing = tmp / "landing"
    subprocess.run(
        [sys.executable, "-m", "devtools.sample", "--out", str(landing), "--hours", "14"],
        cwd=ROOT, check=True, capture_output=True,
    )
    pds = [FakePagerDuty(PD_KEY), FakePagerDuty(PD_KEY)]
    for pd in pds:
        pd.server.start()
    try:
        reference = run_pipeline(landing, tmp / "reference", pds[0], tmp / "reference.log", None)
        runs = [run_pipeline(landing, tmp / "lake", pds[1], tmp / f"run-{i}.log", point)
                for i, point in enumerate(schedule(SEED))]
        final = run_pipeline(landing, tmp / "lake", pds[1], tmp / "final.log", None)
    finally:
        for pd in pds:
            pd.server.stop()
    all_runs = [reference, *runs, final]
    return Chain(tmp / "reference", tmp / "lake", reference, runs, final, pds[0].alerts,
                 pds[1].alerts, [e.get("dedup_key", "") for e in pds[1].accepted],
                 time.monotonic() - start, sum(r.cpu_seconds for r in all_runs))


@pytest.fixture(scope="module")
def chain(request: pytest.FixtureRequest) -> Chain:
    done: Chain = background.result(request, "test_crash_recovery.py", timeout=5400)
    print(f"\nkill chain: {done.seconds:.0f} s wall, {done.cpu_seconds:.0f} s CPU in "
          f"{len(done.runs) + 2} spark-submit runs")
    for run in [done.reference, *done.runs, done.final]:
        print("  " + run.summary())
    return done


def _rows(spark: SparkSession, table: Table, lake: Path) -> DataFrame:
    """The table's rows without its volatile columns; a map column as its sorted entries (set
    operations cannot compare maps)."""
    drop = VOLATILE["*"] | VOLATILE.get(table.name, set())
    df = table.read(spark, str(lake)).drop(*drop)
    maps = [f.name for f in df.schema.fields if isinstance(f.dataType, MapType)]
    return df.withColumns({m: F.sort_array(F.map_entries(m)) for m in maps})


@pytest.mark.slow
def test_every_run_was_killed_at_its_point_and_the_last_one_finished(chain: Chain) -> None:
    assert chain.reference.returncode == 0, chain.reference.output
    assert [r.killed for r in chain.runs] == [True] * 10, [r.output for r in chain.runs]
    assert chain.final.returncode == 0, chain.final.output
    assert {r.phase for r in chain.runs} == set(PHASES), [(r.point, r.commits) for r in chain.runs]
    send_kill = next(r for r in chain.runs if r.point and r.point.on_send)
    assert send_kill.commits["notify"] == 0  # PagerDuty took the event; the ledger did not


@pytest.mark.slow
@pytest.mark.parametrize("table", COMPARED, ids=[t.name for t in COMPARED])
def test_every_table_holds_the_rows_of_an_uninterrupted_run(
    spark: SparkSession, chain: Chain, table: Table
) -> None:
    expected, got = _rows(spark, table, chain.reference_lake), _rows(spark, table, chain.lake)
    assert got.count() == expected.count()
    assert got.exceptAll(expected).count() == 0
    assert expected.exceptAll(got).count() == 0


@pytest.mark.slow
def test_run_tables_hold_no_doubles(spark: SparkSession, chain: Chain) -> None:
    """No doubles: within one run, a run table holds each of its keys once; every run's
    accounting balances and no source's rows were counted as written twice; the runs together
    evaluated exactly the (detection, window) pairs of the reference. A killed run keeps the
    rows it committed before it died (each a whole Delta commit); they count as that run's."""
    lake, ref = str(chain.lake), str(chain.reference_lake)
    keys = {lakehouse.INGEST_RUNS: ["run_id", "source"],
            lakehouse.DQ_RESULTS: ["run_id", "table", "check"],
            lakehouse.DETECTION_RUNS: ["run_id", "detection_id", "window_start", "window_end"],
            lakehouse.DETECTION_HEALTH: ["run_id", "detection_id"],
            lakehouse.INCIDENT_RUNS: ["run_id"],
            lakehouse.RESPONSE_METRICS: ["run_id", "severity"]}
    for table, key in keys.items():
        df = table.read(spark, lake)
        assert df.groupBy(*key).count().where("count > 1").count() == 0, table.name
    # Health is committed before the windows it covers: every evaluation has its health row.
    pairs = ["run_id", "detection_id"]
    evaluations = lakehouse.DETECTION_RUNS.read(spark, lake).select(*pairs).distinct()
    assert evaluations.count() > 0
    health = lakehouse.DETECTION_HEALTH.read(spark, lake).select(*pairs)
    assert evaluations.exceptAll(health).count() == 0

    runs = lakehouse.INGEST_RUNS.read(spark, lake)
    unbalanced = "records_read <> rows_written + duplicates + quarantined"
    assert runs.where(unbalanced).count() == 0

    def written(path: str) -> dict[str, int]:
        df = lakehouse.INGEST_RUNS.read(spark, path).groupBy("source").agg(F.sum("rows_written"))
        return {r[0]: r[1] for r in df.collect()}

    # A run killed between its silver MERGE and its accounting wrote rows no accounting row
    # counts (the rerun reports them as duplicates): at most the reference's, never more.
    expected = written(ref)
    assert all(n <= expected[source] for source, n in written(lake).items())
    windows = ["detection_id", "window_start", "window_end"]

    def evaluated(path: str) -> set[tuple]:
        return {tuple(r) for r in lakehouse.DETECTION_RUNS.read(spark, path).select(*windows)
                .distinct().collect()}

    assert evaluated(lake) == evaluated(ref)


def ocsf_uids(lake: Path) -> list[str]:
    """The ``metadata.uid`` (delivery id) of every OCSF record written for ``lake``."""
    return sorted(json.loads(line)["metadata"]["uid"] for f in ocsf_dir(lake).rglob("*.jsonl")
                  for line in f.read_text().splitlines() if line)


@pytest.mark.slow
def test_the_ocsf_files_hold_each_record_once(chain: Chain) -> None:
    expected = ocsf_uids(chain.reference_lake)
    assert expected and ocsf_uids(chain.lake) == expected


@pytest.mark.slow
def test_pagerduty_holds_each_incident_once_and_the_ledger_each_send_once(
    spark: SparkSession, chain: Chain
) -> None:
    assert chain.alerts == chain.reference_alerts and chain.alerts  # one alert per incident
    assert len(chain.sent) > len(set(chain.sent))  # the killed send went out again, same key
    cols = ["destination", "source", "object_id", "action", "status"]
    sent = lakehouse.DELIVERIES.read(spark, str(chain.lake)).where("status = 'sent'")
    assert sent.groupBy(*cols).count().where("count > 1").count() == 0
    expected = lakehouse.DELIVERIES.read(spark, str(chain.reference_lake)).where("status = 'sent'")
    assert sorted(map(tuple, sent.select(*cols).collect())) == sorted(
        map(tuple, expected.select(*cols).collect()))
