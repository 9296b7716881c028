"""Configuration: defaults, overlays and --set, validated against schemas/config.yml."""

from __future__ import annotations

import os

import pytest
from pyspark.sql import SparkSession

from jobs.runtime.config import ConfigError, load_config


@pytest.mark.parametrize("env", [None, "test", "s3", "emr", "cluster"])
def test_shipped_configurations_are_valid(env: str | None) -> None:
    conf = load_config(env)
    assert conf["lakehouse"].endswith("lakehouse")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("detect.windw=1h", "Unknown configuration key detect.windw; known keys here: "
         "asn_enrichment, backfill, baseline_days, baseline_warmup, enabled, exceptions, "
         "initial_lookback, "
         "lateness, settings, window."),
        ("lakehous=/tmp/x", "Unknown configuration key lakehous; known keys here: destinations, "
         "detect, incidents, ingest, lakehouse, landing, quality, remediate, response, s3, spark, "
         "writer_lock."),
        ("ingest.raw_max_chars=abc",
         "Configuration value ingest.raw_max_chars is invalid: 'abc' is not of type 'integer'."),
        ("response.target_share=2",
         "Configuration value response.target_share is invalid: 2 is greater than the maximum "
         "of 1."),
        ("s3.commit_table.create=maybe",
         "Configuration value s3.commit_table.create is invalid: 'maybe' is not of type "
         "'boolean'."),
        ("destinations.pager.url=https://example.invalid",
         "Configuration value destinations.pager is invalid: 'type' is a required property."),
    ],
)
def test_a_wrong_key_or_type_is_one_sentence_before_any_work(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, [override])
    assert str(err.value) == message


def test_spark_properties_and_extra_prefixes_take_any_names() -> None:
    conf = load_config(None, ["spark.properties.spark.sql.shuffle.partitions=16",
                              "ingest.extra_prefixes.vpcflow=[flows-export/]"])
    assert conf["spark"]["properties"]["spark.sql.shuffle.partitions"] == 16
    assert conf["ingest"]["extra_prefixes"] == {
        "cloudtrail": ["cloudtrail-exports/", "firehose/cloudtrail/"], "vpcflow": ["flows-export/"],
    }


def test_the_suites_spark_listens_on_the_loopback_interface_only(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert conf.get("spark.driver.host") == conf.get("spark.driver.bindAddress") == "127.0.0.1"
    rpc = spark.sparkContext._jsc.sc().env().rpcEnv().address()
    assert rpc.host() == "127.0.0.1"  # where the driver's RPC server listens
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"  # inherited by every spark-submit child
