"""``spark-submit.sh sql``: a Spark SQL prompt with every lakehouse table registered as a view.

Views are named after the table path with ``/`` turned into ``_`` (``silver/cloudtrail_events``
-> ``silver_cloudtrail_events``), and also by their last segment when that is unique.
"""

from __future__ import annotations

import sys
from collections import Counter

from pyspark.sql import SparkSession

from jobs.lakehouse import TABLES
from jobs.runtime.cli import config_from_args, job_parser
from jobs.runtime.session import build_session


def register_views(spark: SparkSession, lakehouse: str) -> list[str]:
    """Register a temp view per existing Delta table under ``lakehouse``; return view names."""
    from delta.tables import DeltaTable

    present = [t for t in TABLES if DeltaTable.isDeltaTable(spark, t.path(lakehouse))]
    short = Counter(t.name.rsplit("/", 1)[-1] for t in present)
    names = []
    for table in present:
        df, name = table.read(spark, lakehouse), table.name
        for view in {name.replace("/", "_"), name.rsplit("/", 1)[-1]}:
            if view == name.rsplit("/", 1)[-1] and short[view] > 1:
                continue
            df.createOrReplaceTempView(view)
            names.append(view)
    return sorted(names)


def main(argv: list[str]) -> int:
    """Run ``-e QUERY`` or read statements (ending in ``;``) from standard input."""
    parser = job_parser("sql", "Spark SQL over the lakehouse lakehouse.")
    parser.add_argument("-e", "--execute", help="run one statement and exit")
    args = parser.parse_args(argv)
    conf = config_from_args(args)
    spark = build_session(conf, "trailwarden-sql")
    views = register_views(spark, conf["lakehouse"])
    if args.execute:
        spark.sql(args.execute).show(100, truncate=False)
        return 0
    print("views: " + ", ".join(views) + "\nend statements with ';', quit with Ctrl-D",
          file=sys.stderr)
    buffer: list[str] = []
    while True:
        try:
            line = input("trailwarden> " if not buffer else "         ...> ")
        except EOFError:
            return 0
        buffer.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(buffer).rstrip().rstrip(";")
            buffer = []
            try:
                spark.sql(statement).show(100, truncate=False)
            except Exception as exc:  # noqa: BLE001 - a bad query must not end the session
                print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
