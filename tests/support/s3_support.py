"""Helpers for the S3 tests: run spark-submit.sh, parse accounting lines, count a Delta table's
rows from its log with boto3 (no Spark needed to check what a Spark job wrote)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTING = re.compile(
    r"^\s+(\w+): files=(\d+) skipped=(\d+) read=(\d+) written=(\d+) duplicates=(\d+) "
    r"quarantined=(\d+)$"
)


def submit(args: list[str], env: dict[str, str], timeout: float = 600) -> str:
    """Run ``./spark-submit.sh ARGS``; return stdout, failing with stderr's tail."""
    proc = subprocess.run(
        [str(ROOT / "spark-submit.sh"), *args], capture_output=True, text=True, env=env,
        timeout=timeout, check=False, cwd=ROOT,
    )
    assert proc.returncode == 0, f"spark-submit.sh {args[0]} failed:\n{proc.stderr[-4000:]}"
    return proc.stdout


def accounting(stdout: str) -> dict[str, tuple[int, ...]]:
    """``source -> (files, skipped, read, written, duplicates, quarantined)`` from job output."""
    out = {}
    for line in stdout.splitlines():
        match = ACCOUNTING.match(line)
        if match:
            out[match.group(1)] = tuple(int(g) for g in match.groups()[1:])
    return out


def delta_log(s3: Any, bucket: str, table: str) -> list[list[dict[str, Any]]]:
    """The actions of every commit JSON of the Delta table at ``s3://bucket/table``, in order."""
    prefix = table.strip("/") + "/_delta_log/"
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
        if re.fullmatch(r"\d{20}\.json", o["Key"].rsplit("/", 1)[-1])
    ]
    return [
        [json.loads(line) for line in
         s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode().splitlines() if line]
        for k in sorted(keys)
    ]


def delta_row_count(s3: Any, bucket: str, table: str) -> int:
    """Rows in the table's current version, from the ``numRecords`` stats of its live files."""
    live: dict[str, int] = {}
    for commit in delta_log(s3, bucket, table):
        for action in commit:
            if "add" in action:
                live[action["add"]["path"]] = json.loads(action["add"]["stats"])["numRecords"]
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return sum(live.values())


def delta_rows(uri: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Every row of the Delta table at ``s3a://`` ``uri`` read with delta-rs, with the
    credentials and endpoint of ``env`` (a moto server's, not this process's environment)."""
    from deltalake import DeltaTable, QueryBuilder

    from jobs.runtime.delta_reader import delta_rs_uri, storage_options

    options = {**storage_options(uri, {"path_style_access": True}, env),
               "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
               "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"]}
    table = DeltaTable(delta_rs_uri(uri), storage_options=options)
    data = QueryBuilder().register("t", table).execute("SELECT * FROM t").read_all()
    columns = [data.column(name).to_pylist() for name in data.column_names]
    return [dict(zip(data.column_names, values, strict=True))
            for values in zip(*columns, strict=True)]
