"""Reading a Delta table without Spark, for the commands people run at a terminal.

``alerts`` and ``incidents list|show`` read a small gold table and print it: starting a JVM for
that took 12 s before the first line. delta-rs (the ``deltalake`` package, the Delta protocol in
Rust) reads the same table in well under a second, locally or on S3, without Java; its DataFusion
engine hands the rows back as Arrow, turned into plain Python values here without pyarrow.

S3: an ``s3a://`` URI (Hadoop's scheme, used by the Spark jobs) is read as ``s3://``. Endpoint,
region and path-style addressing come from the ``s3`` configuration section and the environment
as for the Spark jobs (``jobs.runtime.s3``); credentials from the AWS default provider chain.
Commits that the DynamoDB LogStore has recorded but not yet copied to ``_delta_log`` are not
seen: a reader may be one commit behind a writer that is still committing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jobs.runtime.s3 import s3_endpoint
from jobs.runtime.times import utc

# The gold tables the interactive commands read, relative to the lakehouse root (the same names
# as jobs.detect.run.ALERTS_TABLE and jobs.incidents.store.INCIDENTS_TABLE, whose modules import
# Spark; tests/test_terminal_commands.py checks that they agree).
ALERTS = "gold/alerts"
INCIDENTS = "gold/incidents"
DETECTION_HEALTH = "gold/detection_health"


def table_uri(lakehouse: str, name: str) -> str:
    """The URI of table ``name`` under the lakehouse root (as ``jobs.lakehouse.table_path``)."""
    return f"{lakehouse.rstrip('/')}/{name}"


def delta_rs_uri(uri: str) -> str:
    """``uri`` as delta-rs names it: ``s3a://`` and ``s3n://`` become ``s3://``."""
    scheme, sep, rest = uri.partition("://")
    return f"s3://{rest}" if sep and scheme in ("s3a", "s3n") else uri


def storage_options(uri: str, s3: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """delta-rs storage options for ``uri``: none for local paths; for S3 the endpoint, region
    and addressing style of the ``s3`` configuration section (then the environment)."""
    if not delta_rs_uri(uri).startswith("s3://"):
        return {}
    options = {
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": str(not s3.get("path_style_access")).lower(),
    }
    endpoint = s3_endpoint(s3, environ)
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    region = next(
        (str(v) for v in (s3.get("region"), environ.get("AWS_REGION"),
                          environ.get("AWS_DEFAULT_REGION")) if v),
        "",
    )
    if region:
        options["AWS_REGION"] = region
    return options


def read_rows(
    uri: str, s3: Mapping[str, Any], environ: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """Every row of the Delta table at ``uri`` as a dict (nested structs as dicts, arrays as
    lists, timestamps as aware UTC datetimes), or None when no Delta table is there."""
    from deltalake import DeltaTable, QueryBuilder
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(delta_rs_uri(uri), storage_options=storage_options(uri, s3, environ))
    except TableNotFoundError:
        return None
    data = QueryBuilder().register("t", table).execute("SELECT * FROM t").read_all()
    columns = {name: data.column(name).to_pylist() for name in data.column_names}
    return [
        {name: aware_utc(value) for name, value in zip(columns, values, strict=True)}
        for values in zip(*columns.values(), strict=True)
    ]


def aware_utc(value: Any) -> Any:
    """``value`` with every datetime in it (in lists and dicts too) as ``times.utc`` makes it."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, dict):
        return {k: aware_utc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [aware_utc(v) for v in value]
    return value
