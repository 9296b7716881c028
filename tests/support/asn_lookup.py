"""Small frames of IP strings and their ASN lookup, for the enrichment tests."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from jobs.enrich import asn as asn_mod
from jobs.runtime.frames import local_frame


def ips(spark: SparkSession, values: list[str | None]) -> DataFrame:
    return local_frame(spark, [(i, v) for i, v in enumerate(values)], "id INT, ip STRING")


def lookup(spark: SparkSession, ranges: DataFrame, values: list[str | None]) -> dict:
    out = asn_mod.with_asn(ips(spark, values), "ip", ranges).collect()
    return {r["ip"]: (r["src_asn"], r["src_as_org"], r["src_is_hosting"]) for r in out}
