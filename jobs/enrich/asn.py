"""IP -> ASN, organisation and hosting flag, from the range files in ``conf/intel/asn``.

Lookups join on ``(ip_version, bucket)`` and then filter ``start_num <= num <= end_num``; a bucket
is the address's /16 (IPv4) or /32 (IPv6) prefix, and each range is repeated once per bucket it
spans (see docs/enrichment.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from jobs.enrich.ip import V4_RE, ip_info_sql, let_sql
from jobs.runtime.config import CONF_DIR

ASN_FILES = ("ipv4.csv.gz", "ipv6.csv.gz")

ASN_CSV_SCHEMA = StructType(
    [
        StructField("start_ip", StringType(), False),
        StructField("end_ip", StringType(), False),
        StructField("asn", IntegerType(), False),
        StructField("as_org", StringType(), True),
    ]
)


def asn_paths(conf_dir: Path = CONF_DIR) -> list[str]:
    """The shipped range files, ``<conf_dir>/intel/asn/ipv4.csv.gz`` and ``ipv6.csv.gz``."""
    return [str(conf_dir / "intel" / "asn" / name) for name in ASN_FILES]


# (application id, files' identity, hosting ASNs) -> the parsed, cached shipped ranges.

def load_asn_ranges(
    spark: SparkSession, paths: str | Sequence[str], hosting_asns: Iterable[int] = ()
) -> DataFrame:
    """Read range files (``start_ip,end_ip,asn,as_org`` CSV with header, gzip allowed) into the
    lookup table that ``with_asn`` joins.

    Columns: ``ip_version`` int, ``bucket`` bigint, ``start_num`` / ``end_num`` decimal(38,0)
    (inclusive), ``asn`` int, ``as_org`` string, ``is_hosting`` boolean (``asn`` in
    ``hosting_asns``). A range appears once per bucket it spans. A row that does not parse fails
    the query. Cache the result when it serves more than one lookup.
    """
    raw = (
        spark.read.schema(ASN_CSV_SCHEMA)
        .option("header", "true")
        .option("mode", "FAILFAST")
        .option("escape", '"')
        .csv(paths if isinstance(paths, str) else list(paths))
    )
    hosting = sorted({int(a) for a in hosting_asns})
    is_hosting = F.col("asn").isin(hosting) if hosting else F.lit(False)
    # Parsed inside a generator so that filters the optimizer infers from later joins stay
    # above it and each address is parsed once.
    both = F.struct(
        F.expr(_bound_sql("start_ip")).alias("s"), F.expr(_bound_sql("end_ip")).alias("e")
    )
    parsed = raw.select("start_ip", "end_ip", "asn", "as_org", F.inline(F.array(both)))
    bad = (
        F.col("s.num").isNull()
        | F.col("e.num").isNull()
        | (F.col("s.version") != F.col("e.version"))
        | (F.col("s.num") > F.col("e.num"))
    )
    message = F.concat(
        F.lit("unusable ASN range row: "), F.col("start_ip"), F.lit(","), F.col("end_ip")
    )
    checked = parsed.select(  # checked before the explode, which would drop a bad row silently
        F.when(bad, F.raise_error(message)).otherwise(F.col("s.version")).alias("ip_version"),
        F.col("s.bucket").alias("first_bucket"),
        F.col("e.bucket").alias("last_bucket"),
        F.col("s.num").alias("start_num"),
        F.col("e.num").alias("end_num"),
        "asn",
        "as_org",
    )
    return checked.select(
        "ip_version",
        F.explode(F.sequence("first_bucket", "last_bucket")).alias("bucket"),
        "start_num",
        "end_num",
        "asn",
        "as_org",
        is_hosting.alias("is_hosting"),
    )


def _bound_sql(ip: str) -> str:
    """SQL struct ``(version, num, bucket)`` of a range bound, with fast paths for the forms that
    devtools/refresh_asn.py writes (dotted quad, expanded IPv6), ``ip_info_sql`` for others."""
    octet = [f"CAST(split_part({ip}, '.', {i + 1}) AS BIGINT)" for i in range(4)]
    v4_num = " + ".join(f"{o} * {256 ** (3 - i)}" for i, o in enumerate(octet))
    v4_bucket = f"{octet[0]} * 256 + {octet[1]}"
    hi = f"CAST(conv(replace(substr({ip}, 1, 19), ':', ''), 16, 10) AS DECIMAL(38,0))"
    lo = f"CAST(conv(replace(substr({ip}, 21, 19), ':', ''), 16, 10) AS DECIMAL(38,0))"
    v6_bucket = f"CAST(conv(replace(substr({ip}, 1, 9), ':', ''), 16, 10) AS BIGINT)"
    other = let_sql(
        "tw_i",
        ip_info_sql(ip),
        "named_struct('version', tw_i.version, 'num', tw_i.num, 'bucket', tw_i.bucket)",
    )
    return (
        f"CASE WHEN {ip} RLIKE '{V4_RE}' THEN named_struct('version', 4, "
        f"'num', CAST({v4_num} AS DECIMAL(38,0)), 'bucket', {v4_bucket}) "
        f"WHEN {ip} RLIKE '^[0-3][0-9a-f]{{3}}(:[0-9a-f]{{4}}){{7}}$' "
        f"THEN named_struct('version', 6, "
        f"'num', CAST({hi} * 18446744073709551616BD + {lo} AS DECIMAL(38,0)), "
        f"'bucket', {v6_bucket}) "
        f"ELSE {other} END"
    )


def with_asn(df: DataFrame, ip_col: str, ranges: DataFrame, prefix: str = "src_") -> DataFrame:
    """Add ``<prefix>asn`` (int), ``<prefix>as_org`` (string) and ``<prefix>is_hosting``
    (boolean) for the address in column ``ip_col`` (a name or SQL expression), looked up in
    ``ranges`` from ``load_asn_ranges``.

    Values that are not an IP address, addresses in no range (private space) and IPv6 from
    ``4000::`` up get NULLs. Each distinct address is looked up once (equi-join on version and
    bucket, then the range filter; where ranges overlap the narrowest wins) and joined back.
    """
    added = [f"{prefix}asn", f"{prefix}as_org", f"{prefix}is_hosting"]
    clash = [c for c in added if c in df.columns]
    if clash:
        raise ValueError(f"with_asn would overwrite existing columns {clash}; pick another prefix.")
    key = "__tw_ip"
    ips = (
        df.select(F.expr(ip_col).cast("string").alias(key))
        .where(F.col(key).isNotNull())
        .distinct()
        # A generator, not a projection: the optimizer cannot push the join's inferred
        # IS NOT NULL filters below it, so each distinct address is parsed once, after the
        # distinct, rather than on every input row.
        .select(key, F.explode(F.array(F.expr(ip_info_sql(key)))).alias("__tw_i"))
        .where(F.col("__tw_i.num").isNotNull())
    )
    r = ranges.alias("r")
    hits = ips.join(
        r,
        (F.col("__tw_i.version") == F.col("r.ip_version"))
        & (F.col("__tw_i.bucket") == F.col("r.bucket"))
        & (F.col("r.start_num") <= F.col("__tw_i.num"))
        & (F.col("__tw_i.num") <= F.col("r.end_num")),
    )
    best = F.min_by(
        F.struct(
            F.col("r.asn").alias("asn"),
            F.col("r.as_org").alias("org"),
            F.col("r.is_hosting").alias("h"),
        ),
        F.col("r.end_num") - F.col("r.start_num"),
    )
    lookup = (
        hits.groupBy(key)
        .agg(best.alias("__tw_m"))
        .select(
            key,
            F.col("__tw_m.asn").alias(added[0]),
            F.col("__tw_m.org").alias(added[1]),
            F.col("__tw_m.h").alias(added[2]),
        )
    )
    return df.join(lookup, F.expr(ip_col).cast("string") == F.col(key), "left").drop(key)


def register_asn_view(ranges: DataFrame, name: str = "asn_ranges") -> None:
    """Expose ``ranges`` to SQL as temporary view ``name`` (join it as in docs/enrichment.md)."""
    ranges.createOrReplaceTempView(name)

