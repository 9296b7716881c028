"""The one SparkSession factory, used by every job entry point and by the test fixture."""

from __future__ import annotations

import os
from typing import Any

from pyspark.sql import SparkSession

from jobs.runtime.jars import resolve_jars
from jobs.runtime.times import pin_process_to_utc

DELTA_PROPERTIES = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def jar_groups(conf: dict[str, Any]) -> list[str]:
    """Jar groups a configuration needs: Delta always, the S3 connector for s3a URIs."""
    uris = (str(conf.get("landing", "")), str(conf.get("lakehouse", "")))
    return ["delta", "s3"] if any(u.startswith("s3a://") for u in uris) else ["delta"]


def build_session(conf: dict[str, Any], app_name: str | None = None) -> SparkSession:
    """Return a Delta-enabled SparkSession configured from ``conf``.

    Under ``spark-submit.sh`` the jars and master are already set and win; a plain Python
    process (tests, notebooks) gets the cached jars and the configured master. The process is
    pinned to UTC first (``jobs.runtime.times``).
    """
    pin_process_to_utc()
    spark_conf = conf.get("spark", {})
    builder = SparkSession.builder.appName(app_name or spark_conf.get("app_name", "trailwarden"))
    existing = SparkSession.getActiveSession()
    if existing is None and not _under_spark_submit():
        master = spark_conf.get("master") or "local[*]"
        jars = [j for group in jar_groups(conf) for j in resolve_jars(group)]
        builder = builder.master(master).config("spark.jars", ",".join(jars))
    for key, value in {**DELTA_PROPERTIES, **spark_conf.get("properties", {})}.items():
        builder = builder.config(key, str(value))
    for key, value in s3_properties(conf).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _under_spark_submit() -> bool:
    """spark-submit starts the Python driver with a gateway port already set."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def s3_properties(conf: dict[str, Any]) -> dict[str, str]:
    """Hadoop s3a and Delta LogStore properties from the ``s3`` section (empty when unused).

    ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (and ``_DYNAMODB``) map to the endpoints when
    the section names none, as in the AWS SDKs; credentials come from the default provider chain.
    """
    if "s3" not in jar_groups(conf):
        return {}
    from jobs.runtime.s3 import spark_properties

    return spark_properties(conf.get("s3", {}) or {}, os.environ)
