"""IP parsing, private ranges, ASN lookup, intel lists and the ASN refresh refresh_asn."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from devtools import refresh_asn
from jobs.enrich import asn as asn_mod
from jobs.enrich import intel as intel_mod
from jobs.enrich import ip as ip_mod
from jobs.runtime.config import CONF_DIR, load_config
from jobs.runtime.frames import local_frame
from jobs.runtime.session import build_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    # Local stand-in for the shared fixture (test overlay: local[2], 2 shuffle partitions, UI off,
    # UTC). getOrCreate hands every fixture the same session, so this one never stops it.
    yield build_session(load_config("test"), app_name="trailwarden-tests")


@pytest.fixture(scope="module")
def intel() -> dict:
    return intel_mod.load_intel(CONF_DIR)


@pytest.fixture(scope="module")
def ranges(spark: SparkSession, intel: dict) -> Iterator[DataFrame]:
    df = asn_mod.load_asn_ranges(spark, asn_mod.asn_paths(CONF_DIR), intel["hosting_asns"]).cache()
    yield df
    df.unpersist()


def ips(spark: SparkSession, values: list[str | None]) -> DataFrame:
    return local_frame(spark, [(i, v) for i, v in enumerate(values)], "id INT, ip STRING")


def lookup(spark: SparkSession, ranges: DataFrame, values: list[str | None]) -> dict:
    out = asn_mod.with_asn(ips(spark, values), "ip", ranges).collect()
    return {r["ip"]: (r["src_asn"], r["src_as_org"], r["src_is_hosting"]) for r in out}


def write_ranges(path: Path, rows: list[str]) -> str:
    with gzip.open(path, "wt") as f:
        f.write("start_ip,end_ip,asn,as_org\n" + "\n".join(rows) + "\n")
    return str(path)


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


# --- ASN lookup on small files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_ranges(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> DataFrame:
    d = tmp_path_factory.mktemp("asn")
    v4 = write_ranges(
        d / "v4.csv.gz",
        [
            '11.0.0.0,11.0.255.255,100,"Hosting, Inc."',
            "11.1.0.0,11.3.0.255,200,Spans Buckets",  # three /16 buckets
            "11.3.1.0,11.3.1.0,300,Single Address",
            "12.0.0.0,12.255.255.255,400,Wide",
            "12.1.2.0,12.1.2.255,500,Narrow Inside Wide",  # overlap: the narrow range wins
        ],
    )
    v6 = write_ranges(
        d / "v6.csv.gz",
        [
            "2001:0db8:0000:0000:0000:0000:0000:0000,2001:0db8:0000:ffff:ffff:ffff:ffff:ffff,600,Exploded",
            "2001:db8:1::,2001:db8:2:ffff:ffff:ffff:ffff:ffff,700,Compressed",
            "3fff:ffff::,3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff,800,Top Of Range",
        ],
    )
    return asn_mod.load_asn_ranges(spark, [v4, v6], hosting_asns=[100]).cache()


@pytest.mark.parametrize(
    ("ip", "asn"),
    [
        ("10.255.255.255", None),
        ("11.0.0.0", 100),
        ("11.0.255.255", 100),
        ("11.1.0.0", 200),
        ("11.1.255.255", 200),  # bucket edge inside a range
        ("11.2.0.0", 200),
        ("11.3.0.255", 200),
        ("11.3.1.0", 300),
        ("11.3.1.1", None),
        ("12.1.1.255", 400),
        ("12.1.2.0", 500),
        ("12.1.2.255", 500),
        ("12.1.3.0", 400),
        ("2001:db8::", 600),
        ("2001:db8:0:ffff:ffff:ffff:ffff:ffff", 600),
        ("2001:db8:1::", 700),
        ("2001:DB8:2:FFFF:FFFF:FFFF:FFFF:FFFF", 700),
        ("2001:db8:3::", None),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 800),
        ("::ffff:11.3.1.0", 300),
    ],
)
def test_small_range_boundaries(
    spark: SparkSession, small_ranges: DataFrame, ip: str, asn: int | None
) -> None:
    assert lookup(spark, small_ranges, [ip])[ip][0] == asn


def test_ranges_table_shape(small_ranges: DataFrame) -> None:
    assert small_ranges.columns == [
        "ip_version",
        "bucket",
        "start_num",
        "end_num",
        "asn",
        "as_org",
        "is_hosting",
    ]
    spans = small_ranges.where("asn = 200").orderBy("bucket").collect()
    assert [r["bucket"] for r in spans] == [11 * 256 + 1, 11 * 256 + 2, 11 * 256 + 3]
    hosting = {
        r["asn"]: r["is_hosting"]
        for r in small_ranges.select("asn", "is_hosting").distinct().collect()
    }
    assert hosting[100] is True and hosting[200] is False
    assert small_ranges.where("asn = 100").first()["as_org"] == "Hosting, Inc."


def test_unparsable_range_row_fails(spark: SparkSession, tmp_path: Path) -> None:
    bad = write_ranges(tmp_path / "bad.csv.gz", ["11.0.0.0,not-an-ip,1,Broken"])
    with pytest.raises(Exception, match="unusable ASN range row"):
        asn_mod.load_asn_ranges(spark, bad).collect()


def test_sql_view_lookup_matches_with_asn(spark: SparkSession, small_ranges: DataFrame) -> None:
    ip_mod.register_sql_functions(spark)
    asn_mod.register_asn_view(small_ranges, "test_asn_ranges")
    ips(spark, ["11.2.3.4", "12.5.0.1", "2001:db8:1::5", "AWS Internal"]).createOrReplaceTempView(
        "test_ips"
    )
    via_sql = spark.sql(
        """
        SELECT i.id, i.ip, r.asn AS src_asn, r.as_org AS src_as_org, r.is_hosting AS src_is_hosting
        FROM test_ips i
        LEFT JOIN test_asn_ranges r
          ON r.ip_version = ip_version(i.ip) AND r.bucket = ip_bucket(i.ip)
         AND ip_to_num(i.ip) BETWEEN r.start_num AND r.end_num
        """
    )
    assertDataFrameEqual(via_sql, asn_mod.with_asn(spark.table("test_ips"), "ip", small_ranges))


# --- IP functions --------------------------------------------------------------------------------

PRIVATE_TRUTH_TABLE = [
    ("10.0.0.0", True),
    ("10.255.255.255", True),
    ("11.0.0.0", False),
    ("172.15.255.255", False),
    ("172.16.0.0", True),
    ("172.31.255.255", True),
    ("172.32.0.0", False),
    ("192.168.0.1", True),
    ("192.169.0.1", False),
    ("100.63.255.255", False),
    ("100.64.0.0", True),
    ("100.127.255.255", True),
    ("100.128.0.0", False),
    ("127.0.0.1", True),
    ("169.254.169.254", True),
    ("169.255.0.1", False),
    ("8.8.8.8", False),
    ("0.0.0.0", False),
    ("255.255.255.255", False),
    ("::ffff:10.1.2.3", True),
    ("::ffff:8.8.8.8", False),
    ("fc00::", True),
    ("fdff:ffff::1", True),
    ("FD12:3456::1", True),
    ("fe80::1", True),
    ("fe80::1%eth0", True),
    ("febf:ffff::1", True),
    ("fec0::1", False),
    ("::1", True),
    ("::2", False),
    ("::", False),
    ("2001:4860:4860::8888", False),
    ("ff02::1", False),
    ("ec2.amazonaws.com", None),
    ("AWS Internal", None),
    ("", None),
    (None, None),
    ("256.0.0.1", None),
    ("1.2.3", None),
    ("1.2.3.4.5", None),
    ("01.2.3.4", None),
    ("1::2::3", None),
    ("1:2:3:4:5:6:7:8:9", None),
    ("12345::", None),
    ("2001:db8:::1", None),
    ("64:ff9b::1.2.3.4", None),  # embedded IPv4 outside ::ffff: is not parsed
]


def test_is_private_truth_table_column_and_sql(spark: SparkSession) -> None:
    ip_mod.register_sql_functions(spark)
    rows = [(i, ip, want) for i, (ip, want) in enumerate(PRIVATE_TRUTH_TABLE)]
    df = local_frame(spark, rows, "id INT, ip STRING, want BOOLEAN")
    expected = df.select("id", F.col("want").alias("got"))
    assertDataFrameEqual(df.select("id", ip_mod.ip_is_private("ip").alias("got")), expected)
    df.createOrReplaceTempView("truth_table")
    assertDataFrameEqual(
        spark.sql("SELECT id, is_private_ip(ip) AS got FROM truth_table"), expected
    )


@pytest.mark.parametrize(
    ("ip", "version", "num", "bucket"),
    [
        ("8.8.8.8", 4, 134744072, 2056),
        (" 8.8.4.4 ", 4, 134743044, 2056),
        ("255.255.255.255", 4, 4294967295, 65535),
        ("::", 6, 0, 0),
        ("::1", 6, 1, 0),
        ("2001:db8::1", 6, 0x20010DB8 << 96 | 1, 0x20010DB8),
        ("1:2:3:4:5:6:7::", 6, 0x0001000200030004000500060007 << 16, 0x00010002),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6, (1 << 126) - 1, 0x3FFFFFFF),
        ("4000::", 6, None, None),
        ("ff02::1", 6, None, None),
        ("AWS Internal", None, None, None),
    ],
)
def test_ip_info(
    spark: SparkSession, ip: str, version: int | None, num: int | None, bucket: int | None
) -> None:
    row = (
        spark.range(1)
        .select(F.lit(ip).alias("ip"))
        .select(F.expr(ip_mod.ip_info_sql("ip")).alias("i"))
        .first()["i"]
    )
    got = (
        (row["version"], None if row["num"] is None else int(row["num"]), row["bucket"])
        if row
        else (None,) * 3
    )
    assert got == (version, num, bucket)


def test_sql_functions_registered(spark: SparkSession) -> None:
    names = ip_mod.register_sql_functions(spark)
    assert names == ["ip_info", "ip_version", "ip_to_num", "ip_bucket", "is_private_ip"]
    row = spark.sql(
        "SELECT ip_version('2001:db8::1') v6, ip_version('AWS Internal') none, "
        "ip_to_num('0.0.1.0') n, ip_bucket('8.8.8.8') b, ip_info('10.0.0.1').is_private p"
    ).first()
    assert (row["v6"], row["none"], int(row["n"]), row["b"], row["p"]) == (6, None, 256, 2056, True)


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


# --- Shipped data and the refresh tool -----------------------------------------------------------


def test_shipped_asn_files() -> None:
    asn_dir = CONF_DIR / "intel" / "asn"
    source = json.loads((asn_dir / "SOURCE.json").read_text())
    assert source["package"] == "@ip-location-db/asn"
    assert sum((asn_dir / f).stat().st_size for f in asn_mod.ASN_FILES) < 10 * 1024 * 1024
    for name in ("README.md", "LICENSE", "upstream/DBIP-LICENSE", "upstream/ROUTEVIEWS-LICENSE"):
        assert (asn_dir / name).is_file(), name


def test_disjoint_resolves_overlaps() -> None:
    got = refresh_asn.disjoint(
        [
            (0, 99, 1, "outer"),
            (10, 19, 2, "inner"),
            (10, 19, 3, "same span, later"),
            (90, 120, 4, "straddles"),
            (200, 210, 5, "alone"),
        ]
    )
    assert got == [
        (0, 9, 1, "outer"),
        (10, 19, 3, "same span, later"),
        (20, 89, 1, "outer"),
        (90, 120, 4, "straddles"),
        (200, 210, 5, "alone"),
    ]
    assert (
        refresh_asn.is_reserved(64512) and refresh_asn.is_reserved(4294967294)
        and not refresh_asn.is_reserved(15169)
    )


def test_refresh_from_tarball(spark: SparkSession, tmp_path: Path) -> None:
    doc = 0x20010DB8 << 96
    files = {
        "package/package.json": json.dumps({"name": "@ip-location-db/asn", "version": "9.9.9"}),
        "package/asn-ipv4-num.csv": "134744064,134744319,15169,Google LLC\n"
        '16777216,16777471,13335,"Cloudflare, Inc."\n'
        "16777472,16777727,64512,private use\n",
        "package/asn-ipv6-num.csv": f"{doc},{doc + (1 << 96) - 1},64496,doc\n"
        f'{0x26001F18 << 96},{(0x26001F18 << 96) + (1 << 96) - 1},14618,"Amazon.com, Inc."\n',
        "package/DBIP-LICENSE": "CC BY 4.0",
    }
    tarball = tmp_path / "asn.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    assert refresh_asn.main(["--tarball", str(tarball), "--out", str(out)]) == 0
    with gzip.open(out / "ipv4.csv.gz", "rt") as f:
        assert f.read().splitlines() == [
            "start_ip,end_ip,asn,as_org",
            '1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."',
            "8.8.8.0,8.8.8.255,15169,Google LLC",
        ]
    first = (out / "ipv4.csv.gz").read_bytes()
    refresh_asn.main(["--tarball", str(tarball), "--out", str(out)])
    assert (out / "ipv4.csv.gz").read_bytes() == first  # deterministic
    assert json.loads((out / "SOURCE.json").read_text())["version"] == "9.9.9"
    loaded = asn_mod.load_asn_ranges(spark, [str(out / f) for f in asn_mod.ASN_FILES])
    assert lookup(spark, loaded, ["2600:1f18::1", "1.0.0.1"]) == {
        "2600:1f18::1": (14618, "Amazon.com, Inc.", False),
        "1.0.0.1": (13335, "Cloudflare, Inc.", False),
    }
