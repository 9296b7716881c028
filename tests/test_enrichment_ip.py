"""IP functions (``jobs.enrich.ip``): private ranges as a truth table through the column
function and SQL, parsing into version, number and bucket, and the registered SQL functions."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.enrich import ip as ip_mod
from jobs.runtime.frames import local_frame

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
