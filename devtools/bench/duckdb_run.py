"""The baseline: DuckDB normalizes the same landing files to the silver columns in Parquet
(partitioned by ``event_date``, one row per key, as trailwarden does), then runs two of
trailwarden's detections over the Parquet.

Rules kept equal to trailwarden's so that the row counts can be compared exactly: a CloudTrail
record needs a parseable ``eventTime`` and a non-empty ``eventID`` and is kept once per
``eventID``; a flow record needs as many values as its file's header names fields and is kept
once per distinct field values. Differences: DuckDB's CSV reader has no line-number column, so
flow rows carry no ``record_index``; the mining-pool query skips the RunInstances join that
only fills ``instance_id``.
"""

from __future__ import annotations

import gzip
import re
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from devtools.bench.measure import Probe, StageFigures

# CloudTrail record -> the fields the silver columns come from. Nested objects stay JSON text.
_CT_STRUCTURE = """{
  "eventVersion": "VARCHAR", "eventTime": "VARCHAR", "eventSource": "VARCHAR",
  "eventName": "VARCHAR", "awsRegion": "VARCHAR", "sourceIPAddress": "VARCHAR",
  "userAgent": "VARCHAR", "errorCode": "VARCHAR", "errorMessage": "VARCHAR",
  "requestParameters": "JSON", "responseElements": "JSON", "additionalEventData": "JSON",
  "requestID": "VARCHAR", "eventID": "VARCHAR", "readOnly": "VARCHAR", "resources": "JSON",
  "eventType": "VARCHAR", "managementEvent": "VARCHAR", "recipientAccountId": "VARCHAR",
  "serviceEventDetails": "JSON", "sharedEventID": "VARCHAR", "vpcEndpointId": "VARCHAR",
  "eventCategory": "VARCHAR", "tlsDetails": "JSON",
  "userIdentity": {
    "type": "VARCHAR", "principalId": "VARCHAR", "arn": "VARCHAR", "accountId": "VARCHAR",
    "accessKeyId": "VARCHAR", "userName": "VARCHAR", "invokedBy": "VARCHAR",
    "sessionContext": {
      "sessionIssuer": {"type": "VARCHAR", "arn": "VARCHAR"},
      "attributes": {"mfaAuthenticated": "VARCHAR", "creationDate": "VARCHAR"}
    }
  }
}"""

# The silver columns both DuckDB baselines derive from one typed CloudTrail record ``t``.
_CT_COLUMNS = """  t.eventID AS event_id,
  TRY_CAST(t.eventTime AS TIMESTAMPTZ)::TIMESTAMP AS event_time,
  TRY_CAST(t.eventTime AS TIMESTAMPTZ)::DATE AS event_date,
  t.eventVersion AS event_version, t.eventSource AS event_source, t.eventName AS event_name,
  t.eventType AS event_type, t.eventCategory AS event_category, t.awsRegion AS aws_region,
  coalesce(t.recipientAccountId, t.userIdentity.accountId) AS account_id,
  t.recipientAccountId AS recipient_account_id,
  t.userIdentity.type AS user_identity_type, t.userIdentity.arn AS principal_arn,
  t.userIdentity.principalId AS principal_id, t.userIdentity.accessKeyId AS access_key_id,
  t.userIdentity.userName AS user_name,
  t.userIdentity.sessionContext.sessionIssuer.arn AS session_issuer_arn,
  t.userIdentity.sessionContext.sessionIssuer.type AS session_issuer_type,
  t.userIdentity.invokedBy AS invoked_by,
  coalesce(t.userIdentity.type = 'Root', false) AS is_root,
  coalesce(TRY_CAST(t.userIdentity.sessionContext.attributes.mfaAuthenticated AS BOOLEAN),
           CASE WHEN t.additionalEventData->>'MFAUsed' IS NOT NULL
                THEN t.additionalEventData->>'MFAUsed' = 'Yes' END) AS mfa_authenticated,
  TRY_CAST(t.userIdentity.sessionContext.attributes.creationDate AS TIMESTAMPTZ)::TIMESTAMP
    AS session_created_at,
  t.sourceIPAddress AS source_ip, t.userAgent AS user_agent,
  TRY_CAST(t.readOnly AS BOOLEAN) AS read_only,
  TRY_CAST(t.managementEvent AS BOOLEAN) AS management_event,
  t.errorCode AS error_code, t.errorMessage AS error_message, t.requestID AS request_id,
  t.sharedEventID AS shared_event_id, t.vpcEndpointId AS vpc_endpoint_id,
  t.requestParameters::VARCHAR AS request_parameters,
  t.responseElements::VARCHAR AS response_elements,
  t.additionalEventData::VARCHAR AS additional_event_data,
  t.resources::VARCHAR AS resources, t.serviceEventDetails::VARCHAR AS service_event_details,
  t.tlsDetails::VARCHAR AS tls_details,
"""

_CT_SELECT = """
SELECT
{columns}  record AS record_json, source_file, record_index,
  now()::TIMESTAMP AS ingested_at, 'bench' AS run_id
FROM (
  SELECT source_file, record_index, record, json_transform(record, '{structure}') AS t
  FROM (
    SELECT filename AS source_file, unnest(Records)::VARCHAR AS record,
           generate_subscripts(Records, 1) - 1 AS record_index
    FROM read_json(?, columns = {{'Records': 'JSON[]'}}, format = 'newline_delimited',
                   filename = true, maximum_object_size = 1073741824)
  )
)
WHERE ltrim(record) LIKE '{{%' AND event_time IS NOT NULL
  AND event_id IS NOT NULL AND trim(event_id) <> ''
QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY source_file, record_index) = 1
"""


def _flow_fields() -> list[tuple[str, str]]:
    """(documented field, DuckDB type) in trailwarden's order."""
    from pyspark.sql.types import IntegerType, LongType

    from schemas.vpcflow import FIELDS

    def sql_type(t: Any) -> str:
        return (
            "INTEGER"
            if isinstance(t, IntegerType)
            else "BIGINT"
            if isinstance(t, LongType)
            else "VARCHAR"
        )

    return [(f, sql_type(t)) for f, (_, t) in FIELDS.items()]


def _flow_select(groups: int, present: set[str]) -> str:
    """Typed flow rows from ``groups`` header groups (``flows_raw_<i>`` views, all VARCHAR);
    fields in no header (not in ``present``) are NULL."""
    fields = _flow_fields()
    typed = ", ".join(
        (f"TRY_CAST(nullif(\"{f}\", '-') AS {t})" if f in present else f"NULL::{t}")
        + f' AS "{f.replace("-", "_")}"'
        for f, t in fields
    )
    key = " || chr(31) || ".join(
        f"coalesce(\"{f.replace('-', '_')}\"::VARCHAR, '')" for f, _ in fields
    )
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM flows_raw_{i}" for i in range(groups))
    return f"""
    WITH typed AS (SELECT {typed}, filename AS source_file FROM ({union}))
    SELECT sha256({key}) AS flow_id, * EXCLUDE (source_file),
      to_timestamp(start)::TIMESTAMP AS start_time, to_timestamp("end")::TIMESTAMP AS end_time,
      coalesce(to_timestamp(start)::DATE,
               TRY_STRPTIME(regexp_extract(source_file, '/(\\d{{4}}/\\d{{2}}/\\d{{2}})/', 1),
                            '%Y/%m/%d')::DATE) AS event_date,
      source_file, NULL::BIGINT AS record_index, now()::TIMESTAMP AS ingested_at, 'bench' AS run_id
    FROM typed
    QUALIFY row_number() OVER (PARTITION BY flow_id ORDER BY source_file) = 1
    """


def _ua_family_sql(column: str) -> str:
    """trailwarden's user-agent families (Spark SQL) in DuckDB's dialect."""
    from jobs.sources.cloudtrail import UA_FAMILY_SQL

    sql = UA_FAMILY_SQL.format(ua=column)
    return re.sub(r"(lower\(\w+\)|\w+) RLIKE '([^']*)'", r"regexp_matches(\1, '\2')", sql)


def _private_macro() -> str:
    from jobs.enrich.ip import PRIVATE_V4

    def dotted(addr: str) -> int:
        a, b, c, d = (int(x) for x in addr.split("."))
        return (a << 24) | (b << 16) | (c << 8) | d

    ranges = " OR ".join(
        f"ip4(s) BETWEEN {dotted(a)} AND {dotted(a) + 2 ** (32 - bits) - 1}"
        for a, bits in PRIVATE_V4
    )
    return f"""
    CREATE OR REPLACE MACRO ip4(s) AS CASE
      WHEN regexp_full_match(s, '\\d{{1,3}}(\\.\\d{{1,3}}){{3}}')
      THEN (split_part(s, '.', 1)::BIGINT << 24) + (split_part(s, '.', 2)::BIGINT << 16)
         + (split_part(s, '.', 3)::BIGINT << 8) + split_part(s, '.', 4)::BIGINT END;
    CREATE OR REPLACE MACRO is_private_ip(s) AS CASE
      WHEN ip4(s) IS NOT NULL THEN {ranges}
      WHEN s LIKE '%:%' THEN lower(s) SIMILAR TO '(f[cd]|fe[89ab]).*'
    END;
    """


PARQUET = "<parquet>"  # the last item of a Parquet group's key


def _headers(files: list[str]) -> dict[tuple[str, ...], list[str]]:
    """Flow-log files grouped by their header line (DuckDB's union_by_name runs out of memory
    over thousands of small gzip files)."""
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for f in files:
        if f.endswith(".parquet"):  # the Parquet delivery names the fields with "_"
            names = pq.read_schema(f).names
            groups[tuple(n.replace("_", "-") for n in names) + (PARQUET,)].append(f)
            continue
        with gzip.open(f, "rt") as fh:
            groups[tuple(fh.readline().split())].append(f)
    return groups


def run(cloudtrail: list[str], vpcflow: list[str], out: Path, cores: int) -> dict[str, Any]:
    """Normalize both sources to Parquet, then run the two detections; return the figures."""
    import duckdb

    from jobs.enrich import EMPTY_INTEL
    from jobs.enrich.intel import IntelError, load_intel

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {cores}")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    probe = Probe()
    stages: list[StageFigures] = []
    counts: dict[str, int] = {}

    running = probe.start("normalize cloudtrail")
    ct_out = out / "cloudtrail_events"
    query = _CT_SELECT.format(columns=_CT_COLUMNS, structure=_CT_STRUCTURE.replace("'", "''"))
    counts["silver/cloudtrail_events"] = _copied(
        con.execute(
            f"COPY ({query}) TO '{ct_out}' (FORMAT parquet, PARTITION_BY (event_date))",
            [cloudtrail],
        )
    )
    stages.append(running.stop().with_records(counts["silver/cloudtrail_events"], cores))

    running = probe.start("normalize vpcflow")
    fl_out = out / "vpc_flows"
    groups = _headers(vpcflow)
    for i, (header, files) in enumerate(groups.items()):
        if header[-1] == PARQUET:
            cols = ", ".join(f'CAST("{c.replace("-", "_")}" AS VARCHAR) AS "{c}"'
                             for c in header[:-1])
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW flows_raw_{i} AS SELECT {cols}, filename FROM "
                f"read_parquet({files!r}, filename = true)"
            )
            continue
        columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW flows_raw_{i} AS SELECT * FROM read_csv("
            f"{files!r}, delim = ' ', header = true, columns = {columns}, filename = true)"
        )
    counts["silver/vpc_flows"] = _copied(
        con.execute(
            f"COPY ({_flow_select(len(groups), {f for h in groups for f in h} - {PARQUET})}) "
            f"TO '{fl_out}' (FORMAT parquet, PARTITION_BY (event_date))"
        )
    )
    stages.append(running.stop().with_records(counts["silver/vpc_flows"], cores))

    try:
        intel = load_intel()
    except IntelError:
        intel = dict(EMPTY_INTEL)
    alerts: dict[str, dict[str, int]] = {}
    running = probe.start("detect (2 detections)")
    con.execute(_private_macro())
    ct = f"read_parquet('{ct_out}/**/*.parquet', hive_partitioning = true)"
    fl = f"read_parquet('{fl_out}/**/*.parquet', hive_partitioning = true)"
    root = con.execute(f"""
        WITH calls AS (
          SELECT *, coalesce(session_issuer_arn, principal_arn) AS actor_arn,
                 {_ua_family_sql("user_agent")} AS ua_family
          FROM {ct} WHERE is_root AND access_key_id LIKE 'AKIA%'
        ), hits AS (SELECT * FROM calls
                    WHERE ua_family NOT IN ('console', 'aws-service', 'aws-internal')),
        first AS (SELECT actor_arn, source_ip, min(event_time) AS first_at FROM hits GROUP BY ALL)
        SELECT count(*), count(DISTINCT (time_bucket(INTERVAL 1 HOUR, h.event_time),
                                         h.access_key_id, h.source_ip)),
               count(*) FILTER (WHERE f.first_at >= h.event_time)
        FROM hits h LEFT JOIN first f USING (actor_arn, source_ip)
    """).fetchone()
    alerts["root_access_key_used"] = {"evidence_rows": root[0], "alerts": root[1]}
    ports = ", ".join(str(p) for p in intel.get("mining_pool_ports", [])) or "NULL"
    ips = ", ".join(f"'{ip}'" for ip in intel.get("mining_pool_ips", [])) or "NULL"
    mining = con.execute(f"""
        SELECT count(*), count(DISTINCT (time_bucket(INTERVAL 1 HOUR, start_time),
                                         account_id, dstaddr, dstport))
        FROM {fl}
        WHERE action = 'ACCEPT' AND protocol = 6 AND is_private_ip(srcaddr)
          AND NOT is_private_ip(dstaddr) AND (dstport IN ({ports}) OR dstaddr IN ({ips}))
    """).fetchone()
    alerts["mining_pool_traffic"] = {"evidence_rows": mining[0], "alerts": mining[1]}
    stages.append(
        running.stop().with_records(
            counts["silver/cloudtrail_events"] + counts["silver/vpc_flows"], cores
        )
    )

    return {
        "stages": [s.as_dict() for s in stages],
        "tables": counts,
        "output_files": {name: _files_per_day(out / name.split("/")[1]) for name in counts},
        "detections": alerts,
        "intel_lists_found": bool(intel.get("mining_pool_ports")),
        "flow_header_groups": len(groups),
        "version": duckdb.__version__,
    }


def _copied(result: Any) -> int:
    """Rows written, from the result of a ``COPY ... TO``."""
    return int(result.fetchone()[0])


def _files_per_day(directory: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in sorted(directory.glob("event_date=*")):
        out[part.name.split("=", 1)[1]] = len(list(part.glob("*.parquet")))
    return out
