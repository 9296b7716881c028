"""Spark properties for ``s3a://`` URIs, from the ``s3`` configuration section and the environment.

Credentials never come from configuration: s3a and the LogStore use the AWS SDK's default
provider chain (environment, web identity, profile, container and instance role). Endpoints follow
the SDKs' order: an explicit ``s3.endpoint`` wins, then ``AWS_ENDPOINT_URL_S3``, then
``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_DYNAMODB`` for the commit table).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobs.runtime.logstore import LOGSTORE_CLASS

DEFAULT_CREDENTIALS = "software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider"
_DDB = "spark.io.delta.storage.S3DynamoDBLogStore."


def _first(*values: Any) -> str:
    return next((str(v) for v in values if v not in (None, "")), "")


def s3_endpoint(s3: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The S3 endpoint URL ("" for the AWS default), as the AWS SDKs resolve it."""
    return _first(s3.get("endpoint"), environ.get("AWS_ENDPOINT_URL_S3"),
                  environ.get("AWS_ENDPOINT_URL"))


def dynamodb_endpoint(s3: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The DynamoDB endpoint URL of the commit table ("" for the AWS default)."""
    commits = s3.get("commit_table", {}) or {}
    return _first(commits.get("endpoint"), environ.get("AWS_ENDPOINT_URL_DYNAMODB"),
                  environ.get("AWS_ENDPOINT_URL"))


def spark_properties(s3: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Hadoop s3a and Delta LogStore properties for the ``s3`` section ``s3``.

    ``s3.properties`` are passed through last, so any generated value can be overridden.
    """
    region = _first(s3.get("region"), environ.get("AWS_REGION"),
                    environ.get("AWS_DEFAULT_REGION"))
    props = {
        "spark.hadoop.fs.s3a.aws.credentials.provider": DEFAULT_CREDENTIALS,
        "spark.hadoop.fs.s3a.path.style.access": str(bool(s3.get("path_style_access"))).lower(),
    }
    endpoint = s3_endpoint(s3, environ)
    if endpoint:
        props["spark.hadoop.fs.s3a.endpoint"] = endpoint
        props["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(
            not endpoint.startswith("http://")).lower()
    if region:
        props["spark.hadoop.fs.s3a.endpoint.region"] = region

    commits = s3.get("commit_table", {}) or {}
    if commits.get("enabled", True):
        props["spark.delta.logStore.s3a.impl"] = LOGSTORE_CLASS
        props["spark.delta.logStore.s3.impl"] = LOGSTORE_CLASS
        props[_DDB + "ddb.tableName"] = str(commits.get("name") or "trailwarden_delta_log")
        props[_DDB + "ddb.region"] = _first(commits.get("region"), region, "us-east-1")
        props[_DDB + "ddb.createTable"] = str(bool(commits.get("create", True))).lower()
        props[_DDB + "ddb.ttl"] = str(int(commits.get("ttl_seconds", 86400)))
        ddb_endpoint = dynamodb_endpoint(s3, environ)
        if ddb_endpoint:
            props[_DDB + "ddb.endpoint"] = ddb_endpoint
    props.update({str(k): str(v) for k, v in (s3.get("properties", {}) or {}).items()})
    return props
