"""S3 configuration and incremental discovery, without Spark: properties from conf and the
environment, and day-prefix listing against a moto server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from jobs.ingest.s3_listing import list_since, listing_start, split_uri
from jobs.runtime.config import load_config
from jobs.runtime.logstore import LOGSTORE_CLASS
from jobs.runtime.s3 import spark_properties
from jobs.runtime.session import s3_properties
from tests.support.moto_server import MotoEndpoint, moto_endpoint

DDB = "spark.io.delta.storage.S3DynamoDBLogStore."


def test_local_runs_get_no_s3_properties() -> None:
    assert s3_properties(load_config("test", ["landing=/tmp/l", "lakehouse=/tmp/h"])) == {}


def test_environment_endpoints_map_to_s3a_and_the_commit_table() -> None:
    s3 = load_config("test")["s3"]
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"}
    props = spark_properties(s3, env)
    assert props["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert props["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert props["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert props["spark.delta.logStore.s3a.impl"] == LOGSTORE_CLASS
    assert props[DDB + "ddb.endpoint"] == "http://127.0.0.1:9000"
    assert props[DDB + "ddb.region"] == "eu-west-1"
    assert props[DDB + "ddb.tableName"] == "trailwarden_delta_log"
    assert props["spark.hadoop.fs.s3a.aws.credentials.provider"].endswith(
        "DefaultCredentialsProvider")
    assert not any("secret" in k.lower() or "access.key" in k.lower() for k in props)


def test_service_specific_variables_and_conf_win_as_in_the_aws_sdks() -> None:
    env = {"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_S3": "https://s3.example",
           "AWS_ENDPOINT_URL_DYNAMODB": "http://ddb"}
    props = spark_properties({}, env)
    assert props["spark.hadoop.fs.s3a.endpoint"] == "https://s3.example"
    assert props["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    assert props[DDB + "ddb.endpoint"] == "http://ddb"
    explicit = spark_properties({"endpoint": "http://conf", "path_style_access": True,
                                 "properties": {"spark.hadoop.fs.s3a.threads.max": 4}}, env)
    assert explicit["spark.hadoop.fs.s3a.endpoint"] == "http://conf"
    assert explicit["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert explicit["spark.hadoop.fs.s3a.threads.max"] == "4"
    assert "spark.hadoop.fs.s3a.endpoint" not in spark_properties({}, {})


def test_listing_starts_at_the_newest_ingested_day_minus_lateness() -> None:
    paths = ["s3a://b/AWSLogs/1/CloudTrail/us-east-1/2026/11/19/x.json.gz",
             "s3a://b/AWSLogs/1/vpcflowlogs/us-east-1/2026/11/21/y.log.gz",
             "s3a://b/cloudtrail-exports/undated.json"]
    assert listing_start(paths, 1) == date(2026, 11, 20)
    assert listing_start(paths, 0) == date(2026, 11, 21)
    assert listing_start([], 1) is None
    assert split_uri("s3a://bucket/org/") == ("bucket", "org/")
    assert split_uri("s3a://bucket") == ("bucket", "")


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    yield from moto_endpoint()


def test_day_prefix_listing_reads_only_recent_days_and_undated_objects(
    moto: MotoEndpoint,
) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="logs")
    keys = [
        "org/AWSLogs/1/CloudTrail/us-east-1/2026/10/01/old.json.gz",
        "org/AWSLogs/1/CloudTrail/us-east-1/2026/11/19/late.json.gz",
        "org/AWSLogs/1/CloudTrail/us-east-1/2026/11/20/new.json.gz",
        "org/AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/20/digest.json.gz",
        "org/AWSLogs/2/vpcflowlogs/eu-west-1/2026/11/21/flow.log.gz",
        "org/AWSLogs/2/GuardDuty/eu-west-1/2025/11/20/old-finding.jsonl.gz",
        "org/cloudtrail-exports/export-1.json",
        "org/AWSLogs/1/CloudTrail/us-east-1/2026/11/20/_SUCCESS",
        "elsewhere/AWSLogs/1/CloudTrail/us-east-1/2026/11/20/other.json.gz",
    ]
    for key in keys:
        s3.put_object(Bucket="logs", Key=key, Body=b"{}")
    calls: list[str] = []
    s3.meta.events.register("provide-client-params.s3.ListObjectsV2",
                            lambda params, **_: calls.append(params["Prefix"]))

    recent = list_since(s3, "s3a://logs/org", date(2026, 11, 19), today=date(2026, 11, 21))

    assert [f.path.removeprefix("s3a://logs/org/") for f in recent] == [
        "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/20/digest.json.gz",
        "AWSLogs/1/CloudTrail/us-east-1/2026/11/19/late.json.gz",
        "AWSLogs/1/CloudTrail/us-east-1/2026/11/20/new.json.gz",
        "AWSLogs/2/vpcflowlogs/eu-west-1/2026/11/21/flow.log.gz",
        "cloudtrail-exports/export-1.json",
    ]
    assert not any(c.endswith(("2026/10/01/", "2025/11/20/")) for c in calls)
    assert all(c.startswith("org/") for c in calls)
    everything = list_since(s3, "s3a://logs/org/", None)
    assert len(everything) == 7  # the first run lists all (hidden _SUCCESS excluded)
