"""IP functions written once as Spark SQL text: parsing, numbers, buckets, private ranges.

The same text backs the ``Column`` helpers (through ``F.expr``) and the session's SQL functions
(``register_sql_functions``), so detection SQL and Python transforms cannot disagree.

Numbers: an IPv4 address is its 32-bit value; an IPv6 address is its 128-bit value. Both are held
as ``DECIMAL(38,0)``, which covers IPv6 up to ``3fff:ffff:...`` (``2^126 - 1``), i.e. all of
``2000::/3``, where every routed address lives. Addresses from ``4000::`` up (unique-local,
link-local, multicast, reserved) have no number and so no ASN. ``ip_version`` tells the two
families apart, since ``1.2.3.4`` and ``::102:304`` share a number.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

# Lookup buckets: an IPv4 address's /16, an IPv6 address's /32. Fixed: ``ip_bucket`` exposes them
# and the SQL below computes them from the first two octets or groups.
V4_BUCKET_BITS = 16
V6_BUCKET_BITS = 32

# --- Spark SQL text ------------------------------------------------------------------------------
# ``_let`` binds a value to a lambda variable so the text stays small and each step runs once.

_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
V4_RE = f"^{_OCTET}([.]{_OCTET}){{3}}$"
_H = "[0-9a-f]{1,4}"
_V6_RE = (  # RFC 4291 text forms without an embedded IPv4 part, lower case
    f"^(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
    f"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
    f"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:))$"
)
PRIVATE_V4 = [  # (first address, prefix length)
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("100.64.0.0", 10),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
]
_PRIVATE_V6_FIRST_GROUP = [(0xFC00, 0xFDFF), (0xFE80, 0xFEBF)]  # fc00::/7, fe80::/10
INFO_TYPE = "STRUCT<version: INT, num: DECIMAL(38,0), bucket: BIGINT, is_private: BOOLEAN>"


def let_sql(name: str, value: str, body: str) -> str:
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
        for a, bits in PRIVATE_V4
    )
    return let_sql(
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
    return let_sql(
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
        f"CASE WHEN tw_s RLIKE '{V4_RE}' THEN {_v4_info_sql('tw_s')} "
        f"WHEN tw_s RLIKE '{_V6_RE}' THEN {_v6_info_sql('tw_s')} END"
    )
    return "(" + let_sql("tw_s", norm, body) + ")"


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

