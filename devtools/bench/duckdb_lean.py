"""The lean baseline: the same landing files to the same silver rows, written as a DuckDB user
would, not as a mirror of trailwarden's plan.

CloudTrail: one ``read_json`` over every file, each record unnested once as JSON and typed by
one ``json_transform`` (its text kept as ``record_json``), one row per ``eventID``. Flow logs:
one ``read_csv`` per header format with the documented types declared, one row per distinct
record. Both are written as Parquet partitioned by ``event_date``. The keep rules are
trailwarden's (a CloudTrail record needs a parseable ``eventTime`` and an ``eventID``), so the
row counts must equal the silver tables'. Which row of a duplicated key is kept is left to
DuckDB (``DISTINCT ON`` without an order): a lean script has no lineage order to honour.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from devtools.bench.duckdb_run import (
    _CT_COLUMNS,
    _CT_STRUCTURE,
    PARQUET,
    _files_per_day,
    _flow_fields,
    _headers,
)
from devtools.bench.measure import Probe, StageFigures

_CT_LEAN = """
SELECT DISTINCT ON (t.eventID)
{columns}  record AS record_json, filename AS source_file
FROM (
  SELECT filename, r AS record, json_transform(r, '{structure}') AS t
  FROM read_json(?, columns = {{'Records': 'JSON[]'}}, format = 'newline_delimited',
                 filename = true, maximum_object_size = 1073741824), unnest(Records) AS u(r)
)
WHERE TRY_CAST(t.eventTime AS TIMESTAMPTZ) IS NOT NULL AND trim(t.eventID) <> ''
"""


def _flow_lean(groups: dict[tuple[str, ...], list[str]]) -> str:
    """Typed reads (one per header format), one row per distinct record."""
    fields = _flow_fields()
    kinds = dict(fields)
    reads = []
    for header, files in groups.items():
        if header[-1] == PARQUET:  # typed already; the Parquet delivery names fields with "_"
            cols = ", ".join(f'CAST("{c.replace("-", "_")}" AS {kinds.get(c, "VARCHAR")}) '
                             f'AS "{c}"' for c in header[:-1])
            reads.append(f"SELECT {cols}, filename FROM read_parquet({files!r}, filename = true)")
            continue
        columns = "{" + ", ".join(f"'{c}': '{kinds.get(c, 'VARCHAR')}'" for c in header) + "}"
        reads.append(
            f"SELECT * FROM read_csv({files!r}, delim = ' ', header = true, nullstr = '-', "
            f"columns = {columns}, filename = true, auto_detect = false)"
        )
    present = {c for h in groups for c in h} - {PARQUET}
    names = [f'"{f}"' for f, _ in fields if f in present]
    cols = ", ".join(
        (f'"{f}"' if f in present else f"NULL::{t}") + f' AS "{f.replace("-", "_")}"'
        for f, t in fields
    )
    return f"""
    SELECT {cols},
      to_timestamp(start)::TIMESTAMP AS start_time, to_timestamp("end")::TIMESTAMP AS end_time,
      coalesce(to_timestamp(start)::DATE,
               TRY_STRPTIME(regexp_extract(filename, '/(\\d{{4}}/\\d{{2}}/\\d{{2}})/', 1),
                            '%Y/%m/%d')::DATE) AS event_date,
      filename AS source_file
    FROM (SELECT DISTINCT ON ({", ".join(names)}) * FROM ({" UNION ALL BY NAME ".join(reads)}))
    """


def run(cloudtrail: list[str], vpcflow: list[str], out: Path, cores: int) -> dict[str, Any]:
    """Normalize both sources to Parquet the lean way; return the figures."""
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {cores}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    probe = Probe()
    stages: list[StageFigures] = []
    counts: dict[str, int] = {}

    running = probe.start("lean cloudtrail")
    query = _CT_LEAN.format(columns=_CT_COLUMNS, structure=_CT_STRUCTURE.replace("'", "''"))
    counts["silver/cloudtrail_events"] = int(
        con.execute(
            f"COPY ({query}) TO '{out / 'cloudtrail_events'}' "
            "(FORMAT parquet, PARTITION_BY (event_date))",
            [cloudtrail],
        ).fetchone()[0]
    )
    stages.append(running.stop().with_records(counts["silver/cloudtrail_events"], cores))

    running = probe.start("lean vpcflow")
    groups = _headers(vpcflow)
    counts["silver/vpc_flows"] = int(
        con.execute(
            f"COPY ({_flow_lean(groups)}) TO '{out / 'vpc_flows'}' "
            "(FORMAT parquet, PARTITION_BY (event_date))"
        ).fetchone()[0]
    )
    stages.append(running.stop().with_records(counts["silver/vpc_flows"], cores))
    return {
        "stages": [s.as_dict() for s in stages],
        "tables": counts,
        "output_files": {name: _files_per_day(out / name.split("/")[1]) for name in counts},
        "flow_header_groups": len(groups),
        "version": duckdb.__version__,
    }
