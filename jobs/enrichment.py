"""IP enrichment: address parsing, private ranges, IP -> ASN / organisation / hosting, intel lists.

Every IP function is written once as Spark SQL text. The same text backs the ``Column`` helpers
(through ``F.expr``) and the session's SQL functions (``register_sql_functions``), so detection
SQL and Python transforms cannot disagree.

Numbers: an IPv4 address is its 32-bit value; an IPv6 address is its 128-bit value. Both are held
as ``DECIMAL(38,0)``, which covers IPv6 up to ``3fff:ffff:...`` (``2^126 - 1``), i.e. all of
``2000::/3``, where every routed address lives. Addresses from ``4000::`` up (unique-local,
link-local, multicast, reserved) have no number and so no ASN. ``ip_version`` tells the two
families apart, since ``1.2.3.4`` and ``::102:304`` share a number.

Lookups join on ``(ip_version, bucket)`` and then filter ``start_num <= num <= end_num``; a bucket
is the address's /16 (IPv4) or /32 (IPv6) prefix, and each range is repeated once per bucket it
spans (see docs/enrichment.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from jobs.runtime.config import CONF_DIR
from jobs.runtime.frames import local_frame

log = logging.getLogger(__name__)

# Lookup buckets: an IPv4 address's /16, an IPv6 address's /32. Fixed: ``ip_bucket`` exposes them
# and the SQL below computes them from the first two octets or groups.
V4_BUCKET_BITS = 16
V6_BUCKET_BITS = 32
ASN_FILES = ("ipv4.csv.gz", "ipv6.csv.gz")

ASN_CSV_SCHEMA = StructType(
    [
        StructField("start_ip", StringType(), False),
        StructField("end_ip", StringType(), False),
        StructField("asn", IntegerType(), False),
        StructField("as_org", StringType(), True),
    ]
)

# --- Spark SQL text ------------------------------------------------------------------------------
# ``_let`` binds a value to a lambda variable so the text stays small and each step runs once.

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4_RE = f"^{_OCTET}([.]{_OCTET}){{3}}$"
_H = "[0-9a-f]{1,4}"
_V6_RE = (  # RFC 4291 text forms without an embedded IPv4 part, lower case
    f"^(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
    f"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
    f"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:))$"
)
_PRIVATE_V4 = [  # (first address, prefix length)
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
]
_PRIVATE_V6_FIRST_GROUP = [(0xFC00, 0xFDFF), (0xFE80, 0xFEBF)]  # fc00::/7, fe80::/10
INFO_TYPE = "STRUCT<version: INT, num: DECIMAL(38,0), bucket: BIGINT, is_private: BOOLEAN>"


def _let(name: str, value: str, body: str) -> str:
    return f"transform(array({value}), {name} -> {body})[0]"


def _dotted(addr: str) -> int:
    a, b, c, d = (int(x) for x in addr.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def _v4_info_sql(s: str) -> str:
    """Info struct for ``s``, a string already known to be a dotted quad."""
    num = " + ".join(
        f"CAST(split_part({s}, '.', {i + 1}) AS BIGINT) * {256 ** (3 - i)}" for i in range(4)
    )
    private = " OR ".join(
        f"tw_n BETWEEN {_dotted(a)} AND {_dotted(a) + 2 ** (32 - bits) - 1}"
        for a, bits in _PRIVATE_V4
    )
    return _let(
        "tw_n",
        num,
        f"named_struct('version', 4, 'num', CAST(tw_n AS DECIMAL(38,0)), "
        f"'bucket', tw_n div {2 ** (32 - V4_BUCKET_BITS)}, 'is_private', {private})",
    )


def _v6_info_sql(s: str) -> str:
    """Info struct for ``s``, a string already known to match ``_V6_RE``."""
    # Anchor a leading or trailing '::' with a 0 group, then widen '::' to the missing groups.
    t = f"concat(IF({s} LIKE '::%', '0', ''), {s}, IF({s} LIKE '%::', '0', ''))"
    groups = f"length(replace(regexp_replace({t}, '[0-9a-f]+', 'x'), ':', ''))"
    widened = f"replace({t}, '::', concat(':', repeat('0:', 8 - {groups})))"
    full = f"IF(instr({t}, '::') > 0, {widened}, {t})"

    def group(i: int, sql_type: str) -> str:
        return f"CAST(conv(split_part(tw_f, ':', {i}), 16, 10) AS {sql_type})"

    g1 = group(1, "BIGINT")
    routed = f"{g1} < {0x4000}"  # below 4000::, so the value fits DECIMAL(38,0)
    num = " + ".join(f"{group(i, 'DECIMAL(38,0)')} * {65536 ** (8 - i)}BD" for i in range(1, 9))
    bucket = f"{g1} * 65536 + {group(2, 'BIGINT')}"  # the first two groups: V6_BUCKET_BITS = 32
    private = " OR ".join(f"{g1} BETWEEN {lo} AND {hi}" for lo, hi in _PRIVATE_V6_FIRST_GROUP)
    return _let(
        "tw_f",
        full,
        f"named_struct('version', 6, 'num', IF({routed}, CAST({num} AS DECIMAL(38,0)), NULL), "
        f"'bucket', IF({routed}, {bucket}, NULL), "
        f"'is_private', {private} OR tw_f RLIKE '^(0{{1,4}}:){{7}}0{{0,3}}1$')",
    )


def ip_info_sql(ip: str) -> str:
    """SQL for a struct ``(version, num, bucket, is_private)`` of the address in ``ip``; NULL when
    ``ip`` is not an IP address.

    ``version`` 4 or 6. ``num`` the address as DECIMAL(38,0) (NULL for IPv6 from ``4000::``).
    ``bucket`` the /16 (IPv4) or /32 (IPv6) prefix as BIGINT, the lookup's equi-join key.
    ``is_private``: IPv4 10/8, 172.16/12, 192.168/16, 100.64/10, 127/8, 169.254/16; IPv6
    fc00::/7, fe80::/10, ::1. Input is trimmed and lower-cased, a zone id (``%eth0``) dropped and
    an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) read as IPv4. IPv6 with an embedded dotted
    IPv4 part otherwise (``64:ff9b::1.2.3.4``) is not parsed.
    """
    norm = f"regexp_replace(lower(trim({ip})), '^::ffff:(?=[0-9]+[.])|%.*$', '')"
    body = (
        f"CASE WHEN tw_s RLIKE '{_V4_RE}' THEN {_v4_info_sql('tw_s')} "
        f"WHEN tw_s RLIKE '{_V6_RE}' THEN {_v6_info_sql('tw_s')} END"
    )
    return "(" + _let("tw_s", norm, body) + ")"


def ip_version_sql(ip: str) -> str:
    """SQL: 4 or 6 for a valid address in ``ip``, NULL for anything else."""
    return f"{ip_info_sql(ip)}.version"


def ip_to_num_sql(ip: str) -> str:
    """SQL: the address in ``ip`` as DECIMAL(38,0) (IPv6 only below ``4000::``), else NULL."""
    return f"{ip_info_sql(ip)}.num"


def ip_bucket_sql(ip: str) -> str:
    """SQL: the lookup bucket of the address in ``ip`` (its /16 or /32 prefix), else NULL."""
    return f"{ip_info_sql(ip)}.bucket"


def is_private_ip_sql(ip: str) -> str:
    """SQL: TRUE for private, shared, loopback and link-local addresses, FALSE for other
    addresses, NULL for values that are not an IP address (ranges in ``ip_info_sql``)."""
    return f"{ip_info_sql(ip)}.is_private"


SQL_FUNCTIONS: dict[str, tuple[str, Callable[[str], str]]] = {
    "ip_info": (INFO_TYPE, ip_info_sql),
    "ip_version": ("INT", ip_version_sql),
    "ip_to_num": ("DECIMAL(38,0)", ip_to_num_sql),
    "ip_bucket": ("BIGINT", ip_bucket_sql),
    "is_private_ip": ("BOOLEAN", is_private_ip_sql),
}


def register_sql_functions(spark: SparkSession) -> list[str]:
    """Create the session's SQL functions ``ip_info``, ``ip_version``, ``ip_to_num``,
    ``ip_bucket`` and ``is_private_ip`` (each ``(ip STRING)``) as SQL UDFs; return their names."""
    for name, (returns, builder) in SQL_FUNCTIONS.items():
        spark.sql(
            f"CREATE OR REPLACE TEMPORARY FUNCTION {name}(ip STRING) "
            f"RETURNS {returns} RETURN {builder('ip')}"
        )
    return list(SQL_FUNCTIONS)


# --- Column helpers. ``ip`` is a column name or a SQL expression ---------------------------------


def ip_version(ip: str) -> Column:
    """4 or 6 for a valid address in column/expression ``ip``, else NULL."""
    return F.expr(ip_version_sql(ip))


def ip_to_num(ip: str) -> Column:
    """The address in ``ip`` as DECIMAL(38,0), else NULL (see the module docstring)."""
    return F.expr(ip_to_num_sql(ip))


def ip_is_private(ip: str) -> Column:
    """TRUE for private/shared/loopback/link-local addresses, FALSE for other addresses, NULL
    for non-IP values such as ``ec2.amazonaws.com`` or ``AWS Internal``."""
    return F.expr(is_private_ip_sql(ip))


# --- ASN ranges ----------------------------------------------------------------------------------


def asn_paths(conf_dir: Path = CONF_DIR) -> list[str]:
    """The shipped range files, ``<conf_dir>/intel/asn/ipv4.csv.gz`` and ``ipv6.csv.gz``."""
    return [str(conf_dir / "intel" / "asn" / name) for name in ASN_FILES]


# (application id, files' identity, hosting ASNs) -> the parsed, cached shipped ranges.
_SHIPPED: dict[tuple[Any, ...], DataFrame] = {}


def shipped_asn_ranges(spark: SparkSession, hosting_asns: Iterable[int] = ()) -> DataFrame | None:
    """The ranges shipped in ``conf/intel/asn``, parsed once per Spark application and kept cached,
    so the detect and incidents jobs of a run (and a test session) share one parse; None when the
    files are absent. Parsing the ~800k ranges takes seconds; a cached lookup does not."""
    paths = [p for p in asn_paths() if os.path.exists(p)]
    if not paths:
        return None
    files = tuple((p, os.stat(p).st_size, os.stat(p).st_mtime_ns) for p in paths)
    key = (spark.sparkContext.applicationId, files, tuple(sorted({int(a) for a in hosting_asns})))
    if key not in _SHIPPED:
        for old in [k for k in _SHIPPED if k[0] == key[0]]:
            _SHIPPED.pop(old).unpersist()
        _SHIPPED[key] = load_asn_ranges(spark, paths, key[2]).cache()
    return _SHIPPED[key]


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
    devtools/refresh_asn.py writes (dotted quad, fully expanded IPv6), ``ip_info_sql`` for others."""
    octet = [f"CAST(split_part({ip}, '.', {i + 1}) AS BIGINT)" for i in range(4)]
    v4_num = " + ".join(f"{o} * {256 ** (3 - i)}" for i, o in enumerate(octet))
    v4_bucket = f"{octet[0]} * 256 + {octet[1]}"
    hi = f"CAST(conv(replace(substr({ip}, 1, 19), ':', ''), 16, 10) AS DECIMAL(38,0))"
    lo = f"CAST(conv(replace(substr({ip}, 21, 19), ':', ''), 16, 10) AS DECIMAL(38,0))"
    v6_bucket = f"CAST(conv(replace(substr({ip}, 1, 9), ':', ''), 16, 10) AS BIGINT)"
    other = _let(
        "tw_i",
        ip_info_sql(ip),
        "named_struct('version', tw_i.version, 'num', tw_i.num, 'bucket', tw_i.bucket)",
    )
    return (
        f"CASE WHEN {ip} RLIKE '{_V4_RE}' THEN named_struct('version', 4, "
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


# --- Threat-intel lists --------------------------------------------------------------------------


class IntelError(ValueError):
    """A malformed intel file, reported as one sentence."""


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise IntelError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise IntelError(f"{path} must hold a mapping at the top level.")
    return data


def _asn_map(path: Path, entries: Mapping[str, Any], what: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for label, body in entries.items():
        asns = body.get("asns") if isinstance(body, dict) else None
        if not isinstance(asns, list) or not all(isinstance(a, int) and a > 0 for a in asns):
            raise IntelError(f"{path}: {what} {label!r} needs 'asns', a list of positive integers.")
        for asn in asns:
            if asn in out:
                raise IntelError(
                    f"{path}: AS{asn} is listed under both {out[asn]!r} and {label!r}."
                )
            out[asn] = str(label)
    return out


def _ports(path: Path, values: Any, what: str) -> list[int]:
    if not isinstance(values, list) or not all(
        isinstance(v, int) and 0 < v < 65536 for v in values
    ):
        raise IntelError(f"{path}: {what} must be a list of port numbers.")
    return sorted(set(values))


def _names(path: Path, values: Any, what: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise IntelError(f"{path}: {what} must be a list of non-empty strings.")
    return sorted({v.strip().lower().rstrip(".") for v in values})


def load_intel(conf_dir: Path = CONF_DIR) -> dict[str, Any]:
    """Load ``<conf_dir>/intel/{hosting_asns,bad_asns,mining_pools}.yml``.

    Returns ``hosting_asns`` and ``bad_asns`` (dict ASN -> provider or network name),
    ``mining_pool_ports`` (Stratum ports), ``mining_pool_ports_ambiguous`` (ports shared with
    ordinary services; use only together with a pool address or domain), ``mining_pool_domains``,
    ``mining_pool_domain_suffixes`` and ``mining_pool_ips`` (sorted lists).
    """
    intel = Path(conf_dir) / "intel"
    hosting_path, bad_path, pools_path = (
        intel / f"{n}.yml" for n in ("hosting_asns", "bad_asns", "mining_pools")
    )
    hosting, bad, pools = _read(hosting_path), _read(bad_path), _read(pools_path)
    ports = pools.get("ports") or {}
    ips = pools.get("ips") or []
    if not isinstance(ips, list) or not all(isinstance(e, dict) and e.get("ip") for e in ips):
        raise IntelError(f"{pools_path}: ips must be a list of mappings with an 'ip' key.")
    result: dict[str, Any] = {
        "hosting_asns": _asn_map(hosting_path, hosting.get("providers") or {}, "provider"),
        "bad_asns": _asn_map(bad_path, bad.get("networks") or {}, "network"),
        "mining_pool_ports": _ports(pools_path, ports.get("stratum"), "ports.stratum"),
        "mining_pool_ports_ambiguous": _ports(
            pools_path, ports.get("ambiguous", []), "ports.ambiguous"
        ),
        "mining_pool_domains": _names(pools_path, pools.get("domains"), "domains"),
        "mining_pool_domain_suffixes": _names(
            pools_path, pools.get("domain_suffixes", []), "domain_suffixes"
        ),
        "mining_pool_ips": _names(pools_path, [str(e["ip"]) for e in ips], "ips"),
    }
    log.info(
        "intel: %d hosting ASNs, %d bad ASNs, %d pool ports, %d pool domains, %d pool IPs",
        len(result["hosting_asns"]),
        len(result["bad_asns"]),
        len(result["mining_pool_ports"]),
        len(result["mining_pool_domains"]),
        len(result["mining_pool_ips"]),
    )
    return result


def _schema(*fields: tuple[str, Any]) -> StructType:
    return StructType([StructField(name, dtype) for name, dtype in fields])


_INTEL_VIEWS: dict[str, tuple[str, StructType]] = {
    "intel_hosting_asns": (
        "hosting_asns",
        _schema(("asn", IntegerType()), ("provider", StringType())),
    ),
    "intel_bad_asns": ("bad_asns", _schema(("asn", IntegerType()), ("name", StringType()))),
    "intel_mining_pool_ports": ("mining_pool_ports", _schema(("port", IntegerType()))),
    "intel_mining_pool_ports_ambiguous": (
        "mining_pool_ports_ambiguous",
        _schema(("port", IntegerType())),
    ),
    "intel_mining_pool_domains": ("mining_pool_domains", _schema(("domain", StringType()))),
    "intel_mining_pool_domain_suffixes": (
        "mining_pool_domain_suffixes",
        _schema(("suffix", StringType())),
    ),
    "intel_mining_pool_ips": ("mining_pool_ips", _schema(("ip", StringType()))),
}


def register_intel_views(spark: SparkSession, intel: Mapping[str, Any]) -> list[str]:
    """Expose the ``load_intel`` lists to SQL as temporary views ``intel_*``; return their names."""
    for view, (key, schema) in _INTEL_VIEWS.items():
        values = intel[key]
        rows = list(values.items()) if isinstance(values, Mapping) else [(v,) for v in values]
        local_frame(spark, rows, schema).createOrReplaceTempView(view)
    return list(_INTEL_VIEWS)
