"""The shipped ASN data and intel lists: the files as shipped, lookups of well-known addresses,
nulls for non-IP, private and unrouted values, every input row kept, real range boundaries, the
intel lists loaded, refused when malformed and registered as views, and every listed ASN
announcing address space in the shipped data. Run it after refreshing ``conf/intel/asn``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.enrich import asn as asn_mod
from jobs.enrich import intel as intel_mod
from jobs.runtime.config import CONF_DIR
from tests.support.asn_lookup import ips, lookup


@pytest.fixture(scope="module")
def intel() -> dict:
    return intel_mod.load_intel(CONF_DIR)


@pytest.fixture(scope="module")
def ranges(spark: SparkSession, intel: dict) -> Iterator[DataFrame]:
    df = asn_mod.load_asn_ranges(spark, asn_mod.asn_paths(CONF_DIR), intel["hosting_asns"]).cache()
    yield df
    df.unpersist()


# --- ASN lookup on the shipped data --------------------------------------------------------------


def test_well_known_addresses(spark: SparkSession, ranges: DataFrame) -> None:
    got = lookup(
        spark,
        ranges,
        [
            "8.8.8.8",
            "167.99.54.10",
            "141.94.96.144",
            "1.1.1.1",
            "172.32.0.1",
            "2001:4860:4860::8888",
            "2600:1f18::1",
        ],
    )
    assert got["8.8.8.8"] == (15169, "Google LLC", True)
    assert got["167.99.54.10"] == (14061, "DigitalOcean, LLC", True)
    assert got["141.94.96.144"] == (16276, "OVH SAS", True)
    assert got["1.1.1.1"] == (13335, "Cloudflare, Inc.", True)
    assert got["172.32.0.1"] == (21928, "T-Mobile USA, Inc.", False)  # not hosting; not RFC 1918
    assert got["2001:4860:4860::8888"][0] == 15169
    assert got["2600:1f18::1"][:1] == (14618,) and got["2600:1f18::1"][2] is True


def test_non_ip_private_and_unrouted_values_give_nulls(
    spark: SparkSession, ranges: DataFrame
) -> None:
    values = [
        "ec2.amazonaws.com",
        "AWS Internal",
        None,
        "",
        "10.0.0.5",
        "192.168.1.1",
        "127.0.0.1",
        "fd00::1",
        "fe80::1",
        "4000::1",
        "999.1.1.1",
        "1.2.3",
    ]
    out = asn_mod.with_asn(ips(spark, values), "ip", ranges)
    assert out.count() == len(values)
    assert (
        out.where(
            "src_asn IS NOT NULL OR src_as_org IS NOT NULL OR src_is_hosting IS NOT NULL"
        ).count()
        == 0
    )


def test_every_input_row_kept_and_enriched(spark: SparkSession, ranges: DataFrame) -> None:
    events = ips(spark, ["8.8.8.8"] * 5 + ["AWS Internal"] * 3 + ["1.1.1.1"])
    out = asn_mod.with_asn(events, "ip", ranges, prefix="dst_")
    assert out.columns == ["id", "ip", "dst_asn", "dst_as_org", "dst_is_hosting"]
    assert sorted(r["id"] for r in out.collect()) == list(range(9))
    assert out.where("dst_asn = 15169").count() == 5


def test_real_range_boundaries(spark: SparkSession, ranges: DataFrame) -> None:
    got = lookup(spark, ranges, ["8.8.7.255", "8.8.8.0", "8.8.8.255", "8.8.9.0"])
    assert got["8.8.8.0"][0] == got["8.8.8.255"][0] == 15169
    assert got["8.8.7.255"][0] not in (None, 15169)
    assert got["8.8.9.0"][0] not in (None, 15169)


def test_prefix_clash_is_refused(spark: SparkSession, ranges: DataFrame) -> None:
    df = ips(spark, ["8.8.8.8"]).withColumn("src_asn", F.lit(1))
    with pytest.raises(ValueError, match="src_asn"):
        asn_mod.with_asn(df, "ip", ranges)


# --- Intel lists ---------------------------------------------------------------------------------


def test_load_intel(intel: dict) -> None:
    hosting = intel["hosting_asns"]
    for asn in (
        16509,
        14618,
        15169,
        396982,
        8075,
        14061,
        16276,
        24940,
        63949,
        20473,
        45102,
        132203,
        31898,
        51167,
        12876,
        9009,
        60781,
        16265,
    ):
        assert asn in hosting, asn
    assert hosting[16509] == "Amazon Web Services"
    assert not set(hosting) & set(intel["bad_asns"])
    assert {3333, 4444, 5555, 7777, 14444, 14433, 45700, 3357, 5730} <= set(
        intel["mining_pool_ports"]
    )
    assert 8008 in intel["mining_pool_ports_ambiguous"]
    assert not set(intel["mining_pool_ports"]) & set(intel["mining_pool_ports_ambiguous"])
    assert {
        "pool.minexmr.com",
        "xmr.pool.minergate.com",
        "pool.supportxmr.com",
        "xmrpool.eu",
    } <= set(intel["mining_pool_domains"])
    assert "141.94.96.144" in intel["mining_pool_ips"]


def test_intel_asns_name_real_networks(spark: SparkSession, intel: dict, ranges: DataFrame) -> None:
    """Every listed ASN announces address space in the shipped data (catches typos)."""
    listed = set(intel["hosting_asns"]) | set(intel["bad_asns"])
    present = {
        r["asn"]
        for r in ranges.where(F.col("asn").isin(sorted(listed))).select("asn").distinct().collect()
    }
    assert sorted(listed - present) == []


def test_load_intel_rejects_malformed_files(tmp_path: Path) -> None:
    intel_dir = tmp_path / "intel"
    intel_dir.mkdir()
    for name in ("hosting_asns.yml", "bad_asns.yml", "mining_pools.yml"):
        (intel_dir / name).write_text((CONF_DIR / "intel" / name).read_text())
    (intel_dir / "bad_asns.yml").write_text(
        "networks:\n  One:\n    asns: [64]\n  Two:\n    asns: [64]\n"
    )
    with pytest.raises(intel_mod.IntelError, match="AS64 is listed under both"):
        intel_mod.load_intel(tmp_path)
    (intel_dir / "bad_asns.yml").write_text("networks:\n  Typo:\n    asns: ['x']\n")
    with pytest.raises(intel_mod.IntelError, match="positive integers"):
        intel_mod.load_intel(tmp_path)


def test_intel_views(spark: SparkSession, intel: dict) -> None:
    views = intel_mod.register_intel_views(spark, intel)
    assert "intel_mining_pool_ports" in views
    assert (
        spark.sql("SELECT count(*) c FROM intel_mining_pool_ports WHERE port = 3333").first()["c"]
        == 1
    )
    assert (
        spark.sql("SELECT provider FROM intel_hosting_asns WHERE asn = 14061").first()["provider"]
        == "DigitalOcean"
    )


# --- Shipped files -------------------------------------------------------------------------------


def test_shipped_asn_files() -> None:
    asn_dir = CONF_DIR / "intel" / "asn"
    source = json.loads((asn_dir / "SOURCE.json").read_text())
    assert source["package"] == "@ip-location-db/asn"
    assert sum((asn_dir / f).stat().st_size for f in asn_mod.ASN_FILES) < 10 * 1024 * 1024
    for name in ("README.md", "LICENSE", "upstream/DBIP-LICENSE", "upstream/ROUTEVIEWS-LICENSE"):
        assert (asn_dir / name).is_file(), name
