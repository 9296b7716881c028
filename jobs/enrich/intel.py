"""Threat-intel lists (``conf/intel/*.yml``): hosting and bad ASNs, mining-pool ports, domains and
addresses; loaded and checked, and exposed to SQL as ``intel_*`` views."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import SparkSession
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from jobs.runtime.config import CONF_DIR
from jobs.runtime.frames import local_frame

log = logging.getLogger(__name__)


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
