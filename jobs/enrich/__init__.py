"""Enrichment data for a run: the intel lists and the parsed IP -> ASN ranges, built once at the
job's edge and passed to the steps that use them (``Enrichment.build``)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.enrich.asn import asn_paths, load_asn_ranges
from jobs.enrich.intel import IntelError, load_intel

log = logging.getLogger(__name__)

EMPTY_INTEL: dict[str, Any] = {
    "hosting_asns": {}, "bad_asns": {}, "mining_pool_ports": [], "mining_pool_ports_ambiguous": [],
    "mining_pool_domains": [], "mining_pool_domain_suffixes": [], "mining_pool_ips": [],
}


@dataclass(frozen=True)
class Enrichment:
    """The intel lists and the shipped ASN ranges (cached; None when off or absent)."""

    intel: dict[str, Any]
    asn_ranges: DataFrame | None

    @classmethod
    def build(cls, spark: SparkSession, asn: bool = True) -> Enrichment:
        """Load the intel lists (empty, with a warning, when missing) and, with ``asn``, parse
        the shipped range files once (seconds for ~800k ranges) and keep them cached."""
        try:
            intel = load_intel()
        except IntelError as exc:
            log.warning("intel lists unavailable (%s); intel-based matches are off", exc)
            intel = dict(EMPTY_INTEL)
        paths = [p for p in asn_paths() if os.path.exists(p)]
        if asn and not paths:
            log.warning("no ASN range files under conf/intel/asn; ASN columns stay empty")
        ranges = (
            load_asn_ranges(spark, paths, intel["hosting_asns"].keys()).cache()
            if asn and paths else None
        )
        return cls(intel, ranges)

    @classmethod
    def of(cls, spark: SparkSession, conf: dict[str, Any]) -> Enrichment:
        """The enrichment a run with ``conf`` needs (ASN ranges if detect or incidents use them)."""
        asn = bool(conf.get("detect", {}).get("asn_enrichment", True)) or bool(
            conf.get("incidents", {}).get("asn", True))
        return cls.build(spark, asn)

    def release(self) -> None:
        """Drop the cached ranges."""
        if self.asn_ranges is not None:
            self.asn_ranges.unpersist()

    def with_asn(self, on: bool) -> Enrichment:
        """This enrichment, or the same without ASN ranges when ``on`` is false."""
        return self if on or self.asn_ranges is None else Enrichment(self.intel, None)
