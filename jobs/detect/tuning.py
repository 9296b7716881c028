"""Tuning a run's alerts before they are MERGEd: fold a detection's later windows into the alert
its ``suppress_for`` keeps open, then give each alert its status (``suppressed`` with the
exception's id, ``dry_run`` for a detection in that mode, else ``open``).

``load_tuning`` reads the exceptions file and each detection's ``mode`` and ``suppress_for`` from
``conf/detections.yml``, failing before the run writes anything. The Spark side gathers the alert
fields exceptions match on; ``fold`` and ``jobs.detect.exceptions`` decide in plain Python.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.detect.catalog import (
    Detection,
    DetectionError,
    load_catalog,
    load_settings,
    settings_path,
)
from jobs.detect.exceptions import ExceptionEntry, first_match, load_exceptions, split_expired
from jobs.enrich.asn import with_asn
from jobs.runtime.config import PROJECT_ROOT
from jobs.runtime.frames import local_frame, union_all
from jobs.runtime.times import DurationError, parse_duration
from jobs.sources import SOURCES
from schemas.alerts import ALERTS, SEVERITIES

MODES = ("live", "dry_run")
EVIDENCE_LIMIT = 200
BOOKKEEPING = ("created_at", "updated_at", "status", "run_id", "exception_id", "fingerprint")


@dataclass(frozen=True)
class Tuning:
    """A run's tuning: active and expired exceptions, and per detection id its mode and
    ``suppress_for``."""

    exceptions: tuple[ExceptionEntry, ...] = ()
    expired: tuple[ExceptionEntry, ...] = ()
    modes: Mapping[str, str] = field(default_factory=dict)
    suppress_for: Mapping[str, timedelta] = field(default_factory=dict)

    def mode(self, detection_id: str) -> str:
        """``live`` or ``dry_run``."""
        return self.modes.get(detection_id, "live")

    def expired_note(self) -> str:
        """The expired entries, for the run's output (empty when none)."""
        if not self.expired:
            return ""
        listed = ", ".join(f"{e.id} ({e.expires:%Y-%m-%d}, {e.owner})" for e in self.expired)
        return f"expired exceptions, matching nothing: {listed}"


def exceptions_path(conf: Mapping[str, Any]) -> Path | None:
    """``detect.exceptions`` (relative to the project root), or None when unset."""
    configured = (conf.get("detect") or {}).get("exceptions")
    if not configured:
        return None
    path = Path(str(configured))
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_tuning(
    conf: Mapping[str, Any],
    catalog: Sequence[Detection],
    settings: Mapping[str, Any],
    settings_file: Path,
    now: datetime,
) -> Tuning:
    """The tuning for a run at ``now``; raise one sentence naming the file and entry when the
    exceptions file or a detection's ``mode`` / ``suppress_for`` is malformed."""
    known = [k for d in catalog for k in (d.id, d.name)]
    path = exceptions_path(conf)
    entries = load_exceptions(path, known) if path is not None else []
    active, expired = split_expired(entries, now)
    modes: dict[str, str] = {}
    spans: dict[str, timedelta] = {}
    for d in catalog:
        own = settings["detections"].get(d.name) or {}
        mode = own.get("mode", "live")
        if mode not in MODES:
            raise DetectionError(
                f"{settings_file}: detections.{d.name}.mode is {mode!r}, "
                f"not one of {', '.join(MODES)}."
            )
        modes[d.id] = mode
        if own.get("suppress_for") is not None:
            try:
                spans[d.id] = parse_duration(own["suppress_for"])
            except DurationError as exc:
                raise DetectionError(
                    f"{settings_file}: detections.{d.name}.suppress_for: {exc}"
                ) from None
    return Tuning(tuple(active), tuple(expired), modes, spans)


def tuning_for(conf: Mapping[str, Any], now: datetime) -> Tuning:
    """``load_tuning`` over every detection and the configured settings file (the pipeline calls
    it before ingesting, so a malformed file stops the run before anything is written)."""
    path = settings_path(dict(conf))
    return load_tuning(conf, load_catalog(), load_settings(path), path, now)


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def _merged(
    anchor: dict[str, Any], row: dict[str, Any], now: datetime, run_id: str
) -> dict[str, Any]:
    """``anchor`` with ``row``'s window folded in (the window's count replaced, so a window
    evaluated again is not counted twice)."""
    counts = dict(anchor.get("window_counts") or {anchor["window_start"]: anchor["event_count"]})
    counts[row["window_start"]] = row["event_count"]
    out = dict(anchor)
    out.update(
        window_counts=counts,
        event_count=sum(counts.values()),
        first_seen=min(anchor["first_seen"], row["first_seen"]),
        last_seen=max(anchor["last_seen"], row["last_seen"]),
        alert_time=min(anchor["alert_time"], row["alert_time"]),
        severity=max(anchor["severity"], row["severity"], key=_rank),
        source_ips=sorted(set(anchor["source_ips"]) | set(row["source_ips"])),
        entities=sorted({(e["type"], e["value"]) for e in anchor["entities"] + row["entities"]}),
        evidence=sorted(
            {
                (e["id"], e["source_file"], e["record_index"])
                for e in anchor["evidence"] + row["evidence"]
            }
        )[:EVIDENCE_LIMIT],
        updated_at=now,
        run_id=run_id,
    )
    out["entities"] = [{"type": t, "value": v} for t, v in out["entities"]]
    out["evidence"] = [
        {"id": i, "source_file": f, "record_index": n} for i, f, n in out["evidence"]
    ]
    content = {k: v for k, v in out.items() if k not in BOOKKEEPING}
    content["window_counts"] = sorted(counts.items())
    out["fingerprint"] = hashlib.sha256(
        json.dumps(content, sort_keys=True, default=str).encode()
    ).hexdigest()
    return out


def fold(
    rows: Iterable[dict[str, Any]],
    anchors: Iterable[dict[str, Any]],
    spans: Mapping[str, timedelta],
    now: datetime,
    run_id: str,
) -> list[dict[str, Any]]:
    """The alerts to write for a run's ``rows`` (``gold/alerts`` rows of detections with a
    ``suppress_for`` span), given the ``anchors`` already written for their dedupe keys.

    A row whose window starts within its detection's span after an alert of the same detection
    and dedupe key (written before, or earlier in this run) is folded into that alert; any other
    row is an alert of its own, and later windows may fold into it.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for a in sorted(anchors, key=lambda a: a["window_start"]):
        groups.setdefault((a["detection_id"], a["dedupe_key"]), []).append(a)
    out: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["window_start"], r["alert_id"])):
        group = groups.setdefault((row["detection_id"], row["dedupe_key"]), [])
        span = spans[row["detection_id"]]
        at = next(
            (
                i
                for i in range(len(group) - 1, -1, -1)
                if group[i]["window_start"] <= row["window_start"] < group[i]["window_start"] + span
            ),
            None,
        )
        own = at is not None and group[at]["alert_id"] == row["alert_id"]
        if at is None or (
            own and set(group[at].get("window_counts") or {}) <= {row["window_start"]}
        ):
            if at is None:
                group.append(row)
                group.sort(key=lambda a: a["window_start"])
            else:
                group[at] = row
            out[row["alert_id"]] = row
            continue
        group[at] = _merged(group[at], row, now, run_id)
        out[group[at]["alert_id"]] = group[at]
    return list(out.values())


def fold_windows(
    spark: SparkSession,
    alerts: DataFrame,
    existing: DataFrame,
    tuning: Tuning,
    now: datetime,
    run_id: str,
) -> DataFrame:
    """``alerts`` with the windows of ``suppress_for`` detections folded (see ``fold``)."""
    ids = sorted(tuning.suppress_for)
    if not ids:
        return alerts
    chosen = alerts.where(F.col("detection_id").isin(ids))
    rows = [r.asDict(recursive=True) for r in chosen.collect()]
    if not rows:
        return alerts
    keys = sorted({r["dedupe_key"] for r in rows})
    anchors = [
        r.asDict(recursive=True)
        for r in existing.where(
            F.col("detection_id").isin(ids) & F.col("dedupe_key").isin(keys)
        ).collect()
    ]
    folded = local_frame(spark, fold(rows, anchors, tuning.suppress_for, now, run_id), ALERTS)
    return union_all(
        [alerts.where(~F.col("detection_id").isin(ids)), folded.select(*alerts.columns)]
    )


def _facts(
    spark: SparkSession, alerts: DataFrame, fields: frozenset[str], asn_ranges: DataFrame | None
) -> dict[str, dict[str, set[str]]]:
    """alert id -> match field -> values, for the fields the active exceptions name."""
    facts: dict[str, dict[str, set[str]]] = {}
    for r in alerts.select(
        "alert_id",
        "principal_arn",
        "access_key_id",
        "account_id",
        "region",
        "source_ips",
        "entities",
    ).collect():
        facts[r["alert_id"]] = {
            "principal_arn": {r["principal_arn"]} - {None},
            "access_key_id": {r["access_key_id"]} - {None},
            "account_id": {r["account_id"]} - {None},
            "region": {r["region"]} - {None},
            "source_ip": set(r["source_ips"] or ()),
            "resource": {e["value"] for e in r["entities"] or () if e["value"]},
        }
    if "asn" in fields and asn_ranges is not None:
        ips = alerts.select("alert_id", F.explode("source_ips").alias("ip"))
        for r in with_asn(ips, "ip", asn_ranges).where("src_asn IS NOT NULL").collect():
            facts[r["alert_id"]].setdefault("asn", set()).add(str(r["src_asn"]))
    if "user_agent_family" in fields:
        ids = alerts.select("alert_id", F.explode("evidence.id").alias("evidence_id"))
        for source in SOURCES:
            if not spark.catalog.tableExists(source.view):
                continue
            view = spark.table(source.view)
            if "ua_family" not in view.columns:
                continue
            families = view.select(F.col(source.key).alias("evidence_id"), "ua_family")
            for r in ids.join(families, "evidence_id").where("ua_family IS NOT NULL").collect():
                facts[r["alert_id"]].setdefault("user_agent_family", set()).add(r["ua_family"])
    return facts


def with_statuses(
    spark: SparkSession, alerts: DataFrame, tuning: Tuning, asn_ranges: DataFrame | None
) -> DataFrame:
    """``alerts`` with ``status`` and ``exception_id``: suppressed by the first matching active
    exception, else ``dry_run`` for a detection in that mode, else as they were (``open``)."""
    dry = sorted(i for i, m in tuning.modes.items() if m == "dry_run")
    out = (
        alerts.withColumn(
            "status",
            F.when(F.col("detection_id").isin(dry), F.lit("dry_run")).otherwise(F.col("status")),
        )
        if dry
        else alerts
    )
    if not tuning.exceptions:
        return out
    fields = frozenset().union(*(e.fields for e in tuning.exceptions))
    facts = _facts(spark, alerts, fields, asn_ranges)
    names = {
        r["alert_id"]: (r["detection_id"], r["detection_name"])
        for r in alerts.select("alert_id", "detection_id", "detection_name").collect()
    }
    hits = []
    for alert_id, (det_id, det_name) in names.items():
        hit = first_match(tuning.exceptions, det_id, det_name, facts.get(alert_id, {}))
        if hit is not None:
            hits.append((alert_id, hit))
    if not hits:
        return out
    matched = local_frame(spark, hits, "alert_id string, _exception string")
    return (
        out.join(F.broadcast(matched), "alert_id", "left")
        .withColumn(
            "status",
            F.when(F.col("_exception").isNotNull(), F.lit("suppressed")).otherwise(F.col("status")),
        )
        .withColumn("exception_id", F.coalesce("_exception", "exception_id"))
        .select(*alerts.columns)
    )


def tune(
    spark: SparkSession,
    alerts: DataFrame,
    existing: DataFrame,
    tuning: Tuning,
    asn_ranges: DataFrame | None,
    now: datetime,
    run_id: str,
) -> DataFrame:
    """A run's alerts as they are to be written: folded, then given their statuses."""
    folded = fold_windows(spark, alerts, existing, tuning, now, run_id)
    return with_statuses(spark, folded, tuning, asn_ranges)
