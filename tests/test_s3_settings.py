"""S3 configuration without Spark: properties from conf and the environment (the listing of new
objects is tested in tests/test_ingest_discovery.py)."""

from __future__ import annotations

from jobs.runtime.config import load_config
from jobs.runtime.logstore import LOGSTORE_CLASS
from jobs.runtime.s3 import spark_properties
from jobs.runtime.session import s3_properties

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
