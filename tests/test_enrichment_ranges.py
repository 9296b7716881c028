"""ASN ranges from small files: boundaries (bucket edges, overlaps, IPv6 written exploded or
compressed), the ranges table's shape, an unparsable row refused, the SQL view lookup matching
``with_asn``; and the refresh tool that builds the shipped files from the npm tarball."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from devtools import refresh_asn
from jobs.enrich import asn as asn_mod
from jobs.enrich import ip as ip_mod
from tests.support.asn_lookup import ips, lookup


def write_ranges(path: Path, rows: list[str]) -> str:
    with gzip.open(path, "wt") as f:
        f.write("start_ip,end_ip,asn,as_org\n" + "\n".join(rows) + "\n")
    return str(path)


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


# --- The refresh tool ----------------------------------------------------------------------------


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
