"""Two Spark processes (two "hosts") append to one Delta table on S3 at the same time, their
commits serialized by the DynamoDB LogStore: both succeed, and no commit is lost or doubled.

The race is a background job (``tests/support/background.py``, with its own moto server): it
starts when
the suite is collected and runs beside the in-process tests; the test checks what it left."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobs.runtime.jars import resolve_jars
from tests.support import background
from tests.support.moto_server import moto_endpoint
from tests.support.s3_support import ROOT, delta_log

BUCKET, TABLE = "tw-race", "lakehouse/silver/race"
BATCHES, ROWS = 6, 50


@dataclass(frozen=True)
class Race:
    """The writers' exit codes and log tails, the table's commits and the LogStore's entries."""

    codes: list[int]
    tails: str
    commits: list[list[dict[str, Any]]]
    entries: dict[str, str]


@background.job("test_s3_concurrency.py")
def race(tmp_path: Path) -> Race:
    """Two writer processes append to one table on a moto server at the same time."""
    resolve_jars("s3")  # once, before the race (on a fresh clone this downloads the S3 jars)
    with contextmanager(moto_endpoint)() as moto:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        env = {**moto.env(), "PYTHONPATH": str(ROOT)}
        ready = [tmp_path / f"ready-{w}" for w in (0, 1)]
        go = tmp_path / "go"
        procs = []
        for writer in (0, 1):
            log = (tmp_path / f"writer-{writer}.log").open("w")
            procs.append(background.popen(
                [sys.executable, str(ROOT / "tests" / "support" / "s3_writer.py"), f"s3a://{BUCKET}/{TABLE}",
                 str(writer), str(BATCHES), str(ROWS), str(ready[writer]), str(go)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            ))
        try:
            deadline = time.monotonic() + 600
            while not all(r.exists() for r in ready) and time.monotonic() < deadline:
                assert all(p.poll() is None for p in procs), _tails(tmp_path)
                time.sleep(0.2)
            assert all(r.exists() for r in ready), "writers never got ready\n" + _tails(tmp_path)
            go.touch()  # both sessions are up and version 0 exists: now they race
            codes = [p.wait(timeout=300) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        items = moto.client("dynamodb").scan(TableName="trailwarden_delta_log")["Items"]
        entries = {i["fileName"]["S"]: i["complete"]["S"] for i in items
                   if i["tablePath"]["S"] == f"s3a://{BUCKET}/{TABLE}"}
        return Race(codes, _tails(tmp_path), delta_log(s3, BUCKET, TABLE), entries)


@pytest.mark.slow
def test_two_writers_on_two_hosts_lose_no_commit(request: pytest.FixtureRequest) -> None:
    run: Race = background.result(request, "test_s3_concurrency.py")
    assert run.codes == [0, 0], run.tails

    commits = run.commits
    ops = [next(a["commitInfo"]["operation"] for a in c if "commitInfo" in a) for c in commits]
    # Version 0 creates the table; every append is one WRITE, none lost; auto compaction
    # (spark.databricks.delta.autoCompact.enabled) may add OPTIMIZE commits in between.
    assert ops.count("WRITE") == 1 + 2 * BATCHES, ops
    assert set(ops) <= {"WRITE", "OPTIMIZE"}, ops
    appended = [a["add"] for c, op in zip(commits[1:], ops[1:], strict=True) if op == "WRITE"
                for a in c if "add" in a]
    starts = sorted(json.loads(a["stats"])["minValues"]["id"] for a in appended)
    expected = sorted(w * 1_000_000 + b * ROWS for w in (0, 1) for b in range(BATCHES))
    assert starts == expected  # each batch exactly once: nothing lost, nothing duplicated
    live: dict[str, int] = {}
    for c in commits:  # replay the log: the table's current files hold every row once
        for a in c:
            if "add" in a:
                live[a["add"]["path"]] = json.loads(a["add"]["stats"])["numRecords"]
            if "remove" in a:
                live.pop(a["remove"]["path"])
    assert sum(live.values()) == 2 * BATCHES * ROWS

    entries = run.entries
    assert {f"{v:020d}.json" for v in range(len(commits))} <= set(entries)
    assert set(entries.values()) == {"true"}


def _tails(tmp_path: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-25:])
        for p in sorted(tmp_path.glob("writer-*.log"))
    )

