"""One of several concurrent writers to one Delta table on S3 (run by tests/test_s3_concurrency.py).

``python tests/support/s3_writer.py TABLE_URI WRITER BATCHES ROWS READY_FILE GO_FILE``: builds a
session
with the production factory (so the DynamoDB LogStore is configured from conf), touches READY,
waits for GO, then blind-appends BATCHES batches of ROWS distinct ids, each its own commit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from jobs.runtime.config import load_config
from jobs.runtime.session import build_session


def main(argv: list[str]) -> int:
    table, writer, batches, rows, ready, go = argv
    conf = load_config("test", [
        f"lakehouse={table.rsplit('/', 1)[0]}", "landing=s3a://unused/landing",
        "s3.path_style_access=true", "spark.master=local[1]",
    ])
    spark = build_session(conf, f"trailwarden-writer-{writer}")
    if writer == "0":  # version 0 exists before the race: creating a table is no blind append
        spark.range(0).selectExpr("id", "'0' AS writer").write.format("delta").save(table)
    spark.range(1).count()  # JVM and executor warm before the race
    Path(ready).touch()
    deadline = time.monotonic() + 300
    while not Path(go).exists():
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.05)
    base = int(writer) * 1_000_000
    for batch in range(int(batches)):
        start = base + batch * int(rows)
        (spark.range(start, start + int(rows)).selectExpr("id", f"'{writer}' AS writer")
         .coalesce(1).write.format("delta").mode("append").save(table))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
