"""Every real CloudTrail and flow-log file in ../shared/data/real, laid out as a landing zone.

The files are copied into a temporary landing zone only (never into the repository). The
expected accounting comes from an independent reading of the same files with plain Python.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs import lakehouse
from jobs.ingest.run import run_ingest
from jobs.runtime.config import load_config
from jobs.sources import CLOUDTRAIL

TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _place(real: Path, landing: Path) -> dict[str, list[Path]]:
    """Copy the real files into an AWS-layout landing zone; return them per source."""
    ct_dir = landing / "AWSLogs/218007301253/CloudTrail/us-east-1/2023/07/10"
    exports = landing / "cloudtrail-exports"
    flow_dir = landing / "AWSLogs/123456789010/vpcflowlogs/us-east-1/2019/08/26"
    digest_dir = landing / "AWSLogs/123456789010/CloudTrail-Digest/us-east-1/2023/07/10"
    placed: dict[str, list[Path]] = {"cloudtrail": [], "vpcflow": [], "digest": []}

    def put(src: Path, folder: Path, source: str, name: str | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / (name or src.name)
        shutil.copyfile(src, dest)
        placed[source].append(dest)

    for f in sorted((real / "invictus-sigma-aws/CloudTrail").glob("*.json")):
        put(f, ct_dir, "cloudtrail")
    for f in sorted((real / "stratus-red-team").glob("*.json")):
        put(f, exports / "stratus", "cloudtrail")
    for f in sorted((real / "panther-analysis/test_scenarios").glob("*/*cloudtrail.json")):
        put(f, exports / "panther", "cloudtrail", f"{f.parent.name}-{f.name}")
    put(real / "aws-docs/cloudtrail/cloudtrail-user-guide-examples.ndjson", exports, "cloudtrail")
    put(real / "otrf-security-datasets/ec2_proxy_s3_exfiltration_2020-09-14011940.json",
        exports, "cloudtrail")
    put(real / "otel-collector-contrib/cloudtrail_log_cw.json", exports, "cloudtrail")
    put(real / "otel-collector-contrib/cloudtrail_digest.json", digest_dir, "digest")
    for f in sorted((real / "aws-docs/vpcflow").glob("*.log")):
        put(f, flow_dir, "vpcflow")
    put(real / "panther-analysis/test_scenarios/compromised-root-creds/attacker_vpc.log",
        flow_dir, "vpcflow", "panther-attacker_vpc.log")
    return placed


def _json_records(path: Path) -> list[Any]:
    text = path.read_text()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"]
    if isinstance(doc, dict) and isinstance(doc.get("logEvents"), list):  # CloudWatch Logs
        return [json.loads(e["message"]) for e in doc["logEvents"]]
    return doc if isinstance(doc, list) else [doc]


def _cloudtrail_oracle(files: list[Path]) -> dict[str, int]:
    records = [r for f in files for r in _json_records(f)]
    good = [r for r in records if isinstance(r, dict) and isinstance(r.get("eventTime"), str)
            and TIME.match(r["eventTime"]) and r.get("eventID")]
    unique = {r["eventID"] for r in good}
    return {"read": len(records), "written": len(unique), "duplicates": len(good) - len(unique),
            "quarantined": len(records) - len(good)}


def _flow_oracle(files: list[Path]) -> dict[str, int]:
    lines = []
    for f in files:
        header, *rest = f.read_text().splitlines()
        lines += [
            tuple(zip(header.split(), line.split(), strict=False)) for line in rest if line.strip()
        ]
    return {"read": len(lines), "written": len(set(lines)),
            "duplicates": len(lines) - len(set(lines)), "quarantined": 0}


@pytest.fixture(scope="module")
def real_run(spark: SparkSession, shared_real: Path,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict, dict]:
    tmp = tmp_path_factory.mktemp("real")
    placed = _place(shared_real, tmp / "landing")
    conf = load_config("test", [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}"])
    got = {a.source: a for a in run_ingest(spark, conf, "real-1")}
    oracle = {"cloudtrail": _cloudtrail_oracle(placed["cloudtrail"]),
              "vpcflow": _flow_oracle(placed["vpcflow"])}
    return conf, got, oracle


@pytest.mark.parametrize("source", ["cloudtrail", "vpcflow"])
def test_real_files_are_accounted_exactly(real_run: tuple, source: str) -> None:
    _, got, oracle = real_run
    a = got[source]
    assert a.balanced()
    assert {"read": a.records_read, "written": a.rows_written, "duplicates": a.duplicates,
            "quarantined": a.quarantined} == oracle[source]


def test_real_digest_is_skipped_and_stratus_events_land(spark: SparkSession,
                                                         real_run: tuple) -> None:
    conf, got, _ = real_run
    assert (got["cloudtrail_digest"].files, got["cloudtrail_digest"].files_skipped) == (1, 1)
    ct = spark.read.format("delta").load(CLOUDTRAIL.table.path(conf["lakehouse"]))
    stop_logging = ct.where("event_name = 'StopLogging' AND user_agent LIKE '%stratus-red-team%'")
    assert stop_logging.count() >= 3
    otrf = spark.read.format("delta").load(
        lakehouse.QUARANTINE.path(conf["lakehouse"])
    ).where("source_file LIKE '%ec2_proxy_s3_exfiltration%'")
    assert {r.reason for r in otrf.select("reason").distinct().collect()} == {"missing eventTime"}
    assert otrf.count() == 103
