"""The ingest job over a hostile landing zone: exact accounting, contents, reruns and crashes.

The killed spark-submit run is a background job (``tests/support/background.py``): this
module's tests run last. ``kill -9`` of the whole pipeline at ten points:
``tests/test_crash_recovery.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lakehouse
from jobs.ingest import run as ingest_job
from jobs.ingest.landing import LandingFile
from jobs.ingest.run import Accounting, run_ingest
from jobs.ingest.write import FileOutcome, record_files
from jobs.quality.checks import CHECKS_PATH
from jobs.quality.validate import QualityFailure
from jobs.runtime.config import load_config
from jobs.sources import CLOUDTRAIL, GUARDDUTY, VPCFLOW
from tests.support import background
from tests.support.landing_fixtures import write_hostile_landing

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {
    "cloudtrail": Accounting("cloudtrail", files=11, files_skipped=1, records_read=43,
                             rows_written=23, duplicates=11, quarantined=9),
    "vpcflow": Accounting("vpcflow", files=4, files_skipped=0, records_read=14,
                          rows_written=9, duplicates=1, quarantined=4),
    "guardduty": Accounting("guardduty", files=1, files_skipped=0, records_read=3,
                            rows_written=1, duplicates=1, quarantined=1),
    "unrecognized": Accounting("unrecognized", files=1, records_read=1, quarantined=1),
    "cloudtrail_digest": Accounting("cloudtrail_digest", files=1, files_skipped=1),
}


def conf_for(tmp: Path, **extra: str) -> dict[str, Any]:
    sets = [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}"]
    return load_config("test", sets + [f"{k}={v}" for k, v in extra.items()])


def read(spark: SparkSession, conf: dict[str, Any], name: str) -> Any:
    return spark.read.format("delta").load(name.path(conf["lakehouse"]))


@pytest.fixture(scope="module")
def landed(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("hostile")
    write_hostile_landing(tmp / "landing")
    conf = conf_for(tmp)
    first = {a.source: a for a in run_ingest(spark, conf, "run-1")}
    return conf, first


def test_accounting_is_exact_for_every_source(landed: tuple[dict, dict]) -> None:
    _, first = landed
    assert first == EXPECTED
    assert all(a.balanced() for a in first.values())


def test_silver_rows_are_unique_and_typed(spark: SparkSession, landed: tuple[dict, dict]) -> None:
    conf, _ = landed
    ct = read(spark, conf, CLOUDTRAIL.table)
    ids = sorted(r.event_id[-2:] for r in ct.select("event_id").collect())
    assert ids == [f"{n:02d}" for n in range(22)] + ["30"]
    wrapped = ct.where("event_id LIKE '%000000000020'").first()
    assert wrapped.source_file.endswith("cloudtrail-exports/export-1.json")
    assert (wrapped.record_index, wrapped.user_name, wrapped.read_only) == (2, "alice", True)
    flows = read(spark, conf, VPCFLOW.table)
    assert flows.count() == 9
    assert flows.where("log_status = 'NODATA'").count() == 1
    egress = flows.where("srcaddr = '172.31.1.9'").first()
    assert (egress.dstaddr, egress.dstport, egress.action, egress.flow_direction) == (
        "52.95.128.179", 443, "ACCEPT", "egress")
    gd = read(spark, conf, GUARDDUTY.table).collect()
    assert [(g.finding_id, g.finding_count, str(g.updated_at)) for g in gd] == [
        ("f-1", 5, "2026-11-20 15:20:00")]


def test_every_bad_input_is_quarantined_with_its_reason(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    rows = read(spark, conf, lakehouse.QUARANTINE).collect()
    got = sorted((r.source, Path(r.source_file).name, r.record_index, r.reason.split(":")[0])
                 for r in rows)
    assert got == sorted([
        ("cloudtrail", "111122223333_CloudTrail_us-east-1_20261120T1010Z_mixed.json.gz", 1,
         "missing eventTime"),
        ("cloudtrail", "111122223333_CloudTrail_us-east-1_20261120T1010Z_mixed.json.gz", 2,
         "eventTime does not parse"),
        ("cloudtrail", "111122223333_CloudTrail_us-east-1_20261120T1010Z_mixed.json.gz", 3,
         "record is not a JSON object"),
        ("cloudtrail", "111122223333_CloudTrail_us-east-1_20261120T1010Z_mixed.json.gz", 4,
         "missing eventID"),
        ("cloudtrail", "truncated.json.gz", None, "truncated or corrupt gzip"),
        ("cloudtrail", "zero-bytes.json.gz", None, "empty file"),
        ("cloudtrail", "notjson.json", None, "file is not JSON"),
        ("cloudtrail", "wrongtype.json.gz", None, "Records is not an array of events"),
        ("cloudtrail", "emptygzip.json.gz", None, "empty file"),
        ("vpcflow", "111122223333_vpcflowlogs_us-east-1_fl-1_20261120T1005Z_3.log.gz", 3,
         "dstport out of range"),
        ("vpcflow", "111122223333_vpcflowlogs_us-east-1_fl-1_20261120T1005Z_3.log.gz", 4,
         "expected 14 fields, found 13"),
        ("vpcflow", "111122223333_vpcflowlogs_us-east-1_fl-1_20261120T1005Z_3.log.gz", 5,
         "expected 14 fields, found 15"),
        ("vpcflow", "undocumented.log.gz", None, "header names undocumented field(s)"),
        ("guardduty", "2f0c6f1a-0000-4000-8000-000000000001.jsonl.gz", 3,
         "missing finding type"),
        ("unrecognized", "README.txt", None, "file is not in a recognised AWS delivery path"),
    ])
    not_json = next(r for r in rows if r.source_file.endswith("notjson.json"))
    assert not_json.raw == "<html>403 Forbidden</html>\n"


def test_rerun_adds_nothing(spark: SparkSession, landed: tuple[dict, dict]) -> None:
    conf, _ = landed
    before = {n: read(spark, conf, n).count() for n in lakehouse.INGEST_TABLES}
    assert run_ingest(spark, conf, "run-2") == []
    after = {n: read(spark, conf, n).count() for n in lakehouse.INGEST_TABLES}
    assert after == before


def test_a_file_recorded_twice_is_in_the_manifest_once(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    """Two runs at once on S3 both read a new file: the second one's record adds nothing."""
    conf, _ = landed
    manifest = lakehouse.INGESTED_FILES.path(conf["lakehouse"])
    first = read(spark, conf, lakehouse.INGESTED_FILES).orderBy("path").first()
    before = read(spark, conf, lakehouse.INGESTED_FILES).count()
    again = FileOutcome(LandingFile(first["path"], first["size"], first["modified_at"]),
                        first["source"], "ingested")
    record_files(spark, manifest, [again], "run-at-once", first["ingested_at"])
    assert read(spark, conf, lakehouse.INGESTED_FILES).count() == before
    same = F.col("path") == first["path"]
    rows = read(spark, conf, lakehouse.INGESTED_FILES).where(same).collect()
    assert [r["run_id"] for r in rows] == ["run-1"]


def test_other_delta_readers_can_read_every_table(landed: tuple[dict, dict]) -> None:
    deltalake = pytest.importorskip("deltalake")
    conf, _ = landed
    counts = {n: deltalake.DeltaTable(n.path(conf["lakehouse"])).to_pyarrow_table()
              .num_rows for n in (CLOUDTRAIL.table, VPCFLOW.table, GUARDDUTY.table,
                                  lakehouse.QUARANTINE)}
    assert counts == {CLOUDTRAIL.table: 23, VPCFLOW.table: 9, GUARDDUTY.table: 1,
                      lakehouse.QUARANTINE: 15}


def test_a_failed_fail_check_stops_the_run_before_anything_is_written(
    spark: SparkSession, tmp_path: Path
) -> None:
    checks = yaml.safe_load(CHECKS_PATH.read_text())
    checks["cloudtrail_events"].append({
        "name": "no_describe_calls", "predicate": "event_name <> 'DescribeInstances'",
        "action": "fail", "description": "a check the hostile landing zone's events fail",
    })
    custom = tmp_path / "quality.yml"
    custom.write_text(yaml.safe_dump(checks))
    write_hostile_landing(tmp_path / "landing")
    conf = conf_for(tmp_path, **{"quality.checks": str(custom)})
    kept = _checkpointed(spark)

    with pytest.raises(QualityFailure, match=r"cloudtrail_events: no_describe_calls \(23 of 23"):
        run_ingest(spark, conf, "run-1")
    for name in (CLOUDTRAIL.table, VPCFLOW.table, GUARDDUTY.table,
                 lakehouse.QUARANTINE, lakehouse.INGESTED_FILES, lakehouse.DQ_RESULTS):
        assert read(spark, conf, name).count() == 0, name
    assert _checkpointed(spark) == kept  # every parsed and validated batch released


def _checkpointed(spark: SparkSession) -> set[int]:
    """Ids of the RDDs kept by ``jobs.runtime.frames.materialize`` (Delta's own state caches
    aside)."""
    rdds = spark.sparkContext._jsc.getPersistentRDDs()
    return {int(i) for i, rdd in rdds.items() if rdd.rdd().isLocallyCheckpointed()}


def test_crash_before_the_manifest_then_rerun_leaves_no_duplicates(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_hostile_landing(tmp_path / "landing")
    conf = conf_for(tmp_path)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed after the silver and quarantine writes")

    monkeypatch.setattr(ingest_job, "record_files", crash)
    with pytest.raises(RuntimeError):
        run_ingest(spark, conf, "crashed")
    monkeypatch.undo()
    rerun = {a.source: a for a in run_ingest(spark, conf, "rerun")}
    ct = rerun["cloudtrail"]
    # The crashed run wrote cloudtrail before failing on its manifest: everything is a duplicate.
    assert (ct.records_read, ct.rows_written, ct.duplicates, ct.quarantined) == (43, 0, 34, 9)
    assert read(spark, conf, CLOUDTRAIL.table).count() == 23
    assert read(spark, conf, lakehouse.QUARANTINE).count() == 15


@background.job("test_ingest_job.py")
def killed_run(tmp: Path) -> Path:
    """``spark-submit.sh ingest`` of the hostile landing zone under ``tmp``, SIGKILLed right
    after its first silver commit (a background job: it runs beside the in-process tests)."""
    write_hostile_landing(tmp / "landing")
    lake = Path(conf_for(tmp)["lakehouse"])
    first_merge = lake / CLOUDTRAIL.table.name / "_delta_log" / "00000000000000000001.json"
    proc = background.popen(
        [str(ROOT / "spark-submit.sh"), "ingest", "--env", "test", "--landing",
         str(tmp / "landing"), "--lakehouse", str(lake)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not first_merge.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first_merge.exists(), "the killed run never reached its first silver commit"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return tmp


@pytest.mark.slow
def test_killed_spark_submit_run_then_rerun_is_complete_and_duplicate_free(
    request: pytest.FixtureRequest, spark: SparkSession
) -> None:
    conf = conf_for(background.result(request, "test_ingest_job.py"))
    rerun = {a.source: a for a in run_ingest(spark, conf, "after-kill")}
    assert all(a.balanced() for a in rerun.values())
    assert read(spark, conf, CLOUDTRAIL.table).count() == 23
    assert read(spark, conf, VPCFLOW.table).count() == 9
    assert read(spark, conf, GUARDDUTY.table).count() == 1
    assert read(spark, conf, lakehouse.QUARANTINE).count() == 15
    assert run_ingest(spark, conf, "again") == []
