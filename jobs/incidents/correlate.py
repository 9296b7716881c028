"""Correlation: alerts -> incidents with activity, scope, remediation plan and fix state.

Spark does the heavy lifting over silver (entity extraction in ``extract``, per-incident
aggregates in ``scope``); the small results are collected, and the driver groups alerts
(union-find in ``graph``), assembles each incident and builds its plan. Nothing here reads or
writes tables: the job passes the frames in and MERGEs the rows this returns.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from jobs.enrich.asn import with_asn
from jobs.incidents import assemble, graph, scope
from jobs.incidents.extract import created_resources, remediation_calls
from jobs.incidents.fixes import mark_done
from jobs.incidents.plan import build_plan
from jobs.runtime.frames import local_frame, materialize, release
from jobs.runtime.times import parse_duration, utc
from schemas.incidents import INCIDENTS

log = logging.getLogger("trailwarden.incidents")

IDENTITIES = StructType(
    [
        StructField("incident_id", StringType(), False),
        StructField("kind", StringType(), False),
        StructField("value", StringType(), False),
        StructField("anchor", TimestampType(), False),
        StructField("history_start", TimestampType(), False),
        StructField("window_end", TimestampType(), False),
    ]
)
NICS = StructType(
    [
        StructField(n, StringType())
        for n in ("incident_id", "instance_id", "eni_id", "private_ip", "account_id", "vpc_id")
    ]
)
WANTED = StructType(
    [StructField("link_type", StringType()), StructField("link_value", StringType())]
)
# alert entity type -> resource type in ``extract.created_resources``
OWNED_TYPES = {
    "instance": "instance",
    "eni": "eni",
    "security_group": "security_group",
    "key_pair": "key_pair",
    "access_key": "session",
}


@dataclass(frozen=True)
class Settings:
    """``incidents:`` in conf (durations as text, e.g. ``6 hours``)."""

    window: timedelta = timedelta(hours=6)  # alerts sharing an entity this close are one incident
    lookback: timedelta = timedelta(days=7)  # alerts regrouped each run, back from the newest
    history_days: int = 30  # key history read for first use and dormancy
    session_gap: timedelta = timedelta(hours=6)  # a quiet gap this long ends an activity session
    tail: timedelta = timedelta(hours=24)  # activity kept after the last alert

    @classmethod
    def of(cls, conf: Mapping[str, Any]) -> Settings:
        section = conf.get("incidents", {}) or {}
        d = cls()
        return cls(
            window=parse_duration(section.get("window", "6 hours"))
            if section.get("window")
            else d.window,
            lookback=parse_duration(section["lookback"]) if section.get("lookback") else d.lookback,
            history_days=int(section.get("history_days", d.history_days)),
            session_gap=parse_duration(section["session_gap"])
            if section.get("session_gap")
            else d.session_gap,
            tail=parse_duration(section["tail"]) if section.get("tail") else d.tail,
        )


def aware(value: Any) -> Any:
    """Datetimes as aware UTC (``jobs.runtime.times.utc``); containers recursively."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, Row):
        return {k: aware(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, dict):
        return {k: aware(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [aware(v) for v in value]
    return value


def to_alert(row: Mapping[str, Any]) -> graph.Alert:
    """A ``gold/alerts`` row (as a dict) as a ``graph.Alert``."""
    r = aware(dict(row))
    return graph.Alert(
        alert_id=r["alert_id"],
        detection_name=r["detection_name"],
        title=r["title"],
        severity=r["severity"],
        first_seen=r["first_seen"],
        last_seen=r["last_seen"],
        alert_time=r["alert_time"],
        created_at=r["created_at"],
        account_id=r.get("account_id"),
        region=r.get("region"),
        principal_arn=r.get("principal_arn"),
        access_key_id=r.get("access_key_id"),
        mitre_tactics=tuple(r.get("mitre_tactics") or ()),
        mitre_techniques=tuple(r.get("mitre_techniques") or ()),
        source_ips=tuple(r.get("source_ips") or ()),
        entities=tuple(
            (e["type"], e["value"]) for e in r.get("entities") or [] if e and e.get("value")
        ),
    )


def select_alerts(
    alerts: DataFrame, settings: Settings, keep_ids: Iterable[str]
) -> list[graph.Alert]:
    """Alerts seen within ``settings.lookback`` of the newest one, plus ``keep_ids`` (the alerts
    of incidents still in progress)."""
    newest = alerts.agg(F.max("last_seen")).first()[0]
    if newest is None:
        return []
    since = aware(newest) - settings.lookback
    keep = sorted(set(keep_ids))
    cond = F.col("last_seen") >= F.lit(since)
    if keep:
        cond = cond | F.col("alert_id").isin(keep)
    return [to_alert(r.asDict(recursive=True)) for r in alerts.where(cond).collect()]


def find_owners(
    created: DataFrame, alerts: Sequence[graph.Alert], rounds: int = 3
) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Who created each resource the alerts name: ``(type, id) -> {(access_key|principal, v)}``;
    a session key maps to the key or principal that minted it (followed ``rounds`` deep)."""
    spark = created.sparkSession
    keyed = created.select(
        F.col("resource_type"),
        F.col("resource_id").alias("link_value"),
        "access_key_id",
        "principal_arn",
    ).unionByName(
        created.where("resource_type = 'key_pair'").select(
            "resource_type",
            F.col("attrs")["key_pair_id"].alias("link_value"),
            "access_key_id",
            "principal_arn",
        )
    )
    owners: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    wanted = {(t, v) for a in alerts for t, v in a.entities if t in OWNED_TYPES} | {
        ("access_key", a.access_key_id) for a in alerts if a.access_key_id
    }
    seen: set[tuple[str, str]] = set()
    for _ in range(rounds):
        todo = sorted(wanted - seen)
        if not todo:
            break
        seen |= set(todo)
        want = local_frame(spark, todo, WANTED).withColumn(
            "resource_type",
            F.element_at(
                F.create_map(*[F.lit(x) for kv in OWNED_TYPES.items() for x in kv]),
                F.col("link_type"),
            ),
        )
        hits = (
            keyed.join(F.broadcast(want), ["resource_type", "link_value"])
            .select("link_type", "link_value", "access_key_id", "principal_arn")
            .distinct()
            .collect()
        )
        wanted = set()
        for h in hits:
            if h["access_key_id"]:
                owner = ("access_key", h["access_key_id"])
            elif h["principal_arn"] and not graph.is_root_arn(h["principal_arn"]):
                owner = ("principal", h["principal_arn"])
            else:
                continue
            owners[(h["link_type"], h["link_value"])].add(owner)
            if owner[0] == "access_key":
                wanted.add(owner)
    return dict(owners)


def user_of(arn: str | None) -> str | None:
    """The IAM user name in ``arn:aws:iam::<account>:user/<path/>name`` (else None)."""
    if not arn or ":user/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1] or None


def _by_incident(rows: Iterable[Row]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        d = aware(r)
        out[d.pop("incident_id")].append(d)
    return out


def _ceil_minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0) + timedelta(minutes=1)


def correlate(
    alerts: DataFrame,
    cloudtrail: DataFrame,
    flows: DataFrame,
    ranges: DataFrame | None,
    existing: Sequence[Mapping[str, Any]],
    settings: Settings,
    run_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Incident rows (``schemas.incidents.INCIDENTS`` as dicts) to MERGE: new, changed and
    merged-away incidents. ``existing``: current ``gold/incidents`` rows as dicts."""
    spark: SparkSession = alerts.sparkSession
    prior = {r["incident_id"]: aware(dict(r)) for r in existing}
    active = {i: r for i, r in prior.items() if r["status"] not in ("merged",)}
    alert_owner = {a: (i, r["created_at"]) for i, r in active.items() for a in r["alert_ids"]}
    keep = [a for i, r in active.items() if r["status"] != "resolved" for a in r["alert_ids"]]
    chosen = select_alerts(alerts, settings, keep)
    if not chosen:
        return []
    first = min(a.first_seen for a in chosen)
    last = max(a.last_seen for a in chosen)
    lo, hi = first - timedelta(days=settings.history_days), last + settings.tail
    events = cloudtrail.where(
        F.col("event_date").between(F.lit(lo.date()), F.lit(hi.date()))
        & F.col("event_time").between(F.lit(lo), F.lit(hi))
    )
    created_all = materialize(created_resources(events))
    owners = find_owners(created_all, chosen)
    groups = graph.assign_ids(graph.group_alerts(chosen, owners, settings.window), alert_owner)
    log.info("incidents: %d alerts -> %d incidents", len(chosen), len(groups))

    id_rows = []
    for incident_id, group, _ in groups:
        anchor = group.first_seen
        end = max(a.last_seen for a in group.alerts) + settings.tail
        for kind, value in sorted(group.links):
            if kind in graph.IDENTITY_TYPES:
                id_rows.append(
                    (
                        incident_id,
                        kind,
                        value,
                        anchor,
                        anchor - timedelta(days=settings.history_days),
                        end,
                    )
                )
    identities = local_frame(spark, id_rows, IDENTITIES)
    inc_events = materialize(scope.incident_events(events, identities))
    starts_df = materialize(
        scope.session_starts(inc_events, int(settings.session_gap.total_seconds()))
    )
    starts = {r["incident_id"]: aware(r) for r in starts_df.collect()}
    window_events = scope.in_incident_window(inc_events, starts_df)
    activity = _by_incident(scope.activity(window_events).collect())
    touched = {k: v[0] for k, v in _by_incident(scope.touched(window_events).collect()).items()}
    sources = scope.call_sources(window_events)
    if ranges is not None:
        sources = with_asn(sources, "ip", ranges, prefix="")
    source_rows = _by_incident(sources.collect())
    minute_calls = _by_incident(scope.minute_calls(window_events).collect())
    key_rows = _by_incident(
        window_events.where(F.col("access_key_id").isNotNull())
        .groupBy("incident_id", "access_key_id")
        .agg(
            F.max(F.coalesce("is_root", F.lit(False))).alias("is_root"),
            F.min("user_name").alias("user_name"),
            F.min("principal_arn").alias("principal_arn"),
            F.min("account_id").alias("account_id"),
            F.max("session_issuer_arn").alias("session_issuer_arn"),
            F.max("session_issuer_type").alias("session_issuer_type"),
            F.min("event_time").alias("first_used"),
            F.max("event_time").alias("last_used"),
        )
        .collect()
    )
    windows = identities.join(
        starts_df.select("incident_id", "started_at"), "incident_id", "left"
    ).select(
        "incident_id",
        "kind",
        "value",
        F.coalesce("started_at", "anchor").alias("started_at"),
        "window_end",
    )
    created = _by_incident(scope.created_by(created_all, windows).collect())
    for kept in (starts_df, inc_events, created_all):
        release(kept)

    found = {iid: assemble.resources(created.get(iid, [])) for iid, _, _ in groups}
    nic_rows = [
        (iid, n["instance_id"], n["eni_id"], n["private_ip"], n["account_id"], n["vpc_id"])
        for iid, res in found.items()
        for n in assemble.nics(res["instances"])
    ]
    peer_rows: dict[str, list[dict[str, Any]]] = {}
    byte_rows: dict[str, list[dict[str, Any]]] = {}
    if nic_rows:
        flow_window = flows.where(
            F.col("event_date").between(F.lit(first.date()), F.lit(hi.date()))
            & F.col("start_time").between(F.lit(first - timedelta(hours=1)), F.lit(hi))
        )
        inc_flows = materialize(
            scope.incident_flows(flow_window, local_frame(spark, nic_rows, NICS))
        )
        peer_df = scope.peers(inc_flows)
        if ranges is not None:
            peer_df = with_asn(peer_df, "ip", ranges, prefix="")
        peer_rows = _by_incident(peer_df.collect())
        byte_rows = _by_incident(scope.minute_bytes(inc_flows).collect())
        release(inc_flows)

    drafts = []
    for incident_id, group, merged in groups:
        draft = _draft(
            incident_id,
            group,
            settings,
            starts.get(incident_id),
            activity.get(incident_id, []),
            touched.get(incident_id),
            source_rows.get(incident_id, []),
            key_rows.get(incident_id, []),
            found[incident_id],
            peer_rows.get(incident_id, []),
            assemble.timeline(minute_calls.get(incident_id, []), byte_rows.get(incident_id, [])),
        )
        drafts.append((draft, merged))
    _track_fixes(cloudtrail, [d for d, _ in drafts])
    return _finalize(drafts, prior, run_id, now)


def _draft(
    incident_id: str,
    group: graph.Group,
    settings: Settings,
    start: Mapping[str, Any] | None,
    activity: list[dict[str, Any]],
    touched: Mapping[str, Any] | None,
    sources: list[dict[str, Any]],
    keys: list[dict[str, Any]],
    res: dict[str, list[dict[str, Any]]],
    peers: list[dict[str, Any]],
    timeline: list[dict[str, Any]],
) -> dict[str, Any]:
    alerts = sorted(group.alerts, key=lambda a: (a.first_seen, a.alert_id))
    principal, key = graph.primary_identity(group)
    started = (start or {}).get("started_at") or alerts[0].first_seen
    started = min(started, alerts[0].first_seen)
    previous = (start or {}).get("key_previous_seen")
    inbound = {p["ip"] for p in peers if p["direction"] == "inbound"}
    source_ips = [
        {
            "ip": s["ip"],
            "asn": s.get("asn"),
            "as_org": s.get("as_org"),
            "is_hosting": s.get("is_hosting"),
            "calls": s["calls"],
            "first_seen": s["first_seen"],
            "last_seen": s["last_seen"],
            "seen_in": "cloudtrail+vpc_flows" if s["ip"] in inbound else "cloudtrail",
        }
        for s in sorted(sources, key=lambda s: (-s["calls"], s["ip"]))
    ]
    destinations = [
        {
            k: p.get(k)
            for k in (
                "ip",
                "as_org",
                "direction",
                "port",
                "protocol",
                "asn",
                "bytes",
                "packets",
                "flows",
                "instance_ids",
                "first_seen",
                "last_seen",
            )
        }
        for p in sorted(
            peers, key=lambda p: (p["direction"] != "outbound", -(p["bytes"] or 0), p["ip"])
        )
    ]
    roles = list(res["assumed_roles"])
    for k in keys:  # a role session among the identities: revoke the role's sessions
        if (
            k["access_key_id"].startswith("ASIA")
            and k.get("session_issuer_type") == "Role"
            and k.get("session_issuer_arn")
        ):
            if all(r["role_arn"] != k["session_issuer_arn"] for r in roles):
                roles.append(
                    {
                        "role_arn": k["session_issuer_arn"],
                        "session_arn": None,
                        "session_access_key_id": k["access_key_id"],
                        "account_id": k.get("account_id"),
                        "assumed_at": k.get("first_used"),
                    }
                )
    t = touched or {}
    scope_row: dict[str, Any] = {
        "key_first_seen": (start or {}).get("key_first_seen"),
        "key_previous_seen": previous,
        "dormant_days": round((started - previous).total_seconds() / 86400, 2)
        if previous
        else None,
        "lookback_days": settings.history_days,
        "accounts": sorted(
            set(t.get("accounts") or []) | {a.account_id for a in alerts if a.account_id}
        ),
        "regions": sorted(set(t.get("regions") or []) | {a.region for a in alerts if a.region}),
        "principals": sorted(
            set(t.get("principals") or [])
            | {a.principal_arn for a in alerts if a.principal_arn}
            | {r["role_arn"] for r in roles if r.get("role_arn")}
        ),
        "access_keys": sorted(
            set(t.get("access_keys") or []) | {a.access_key_id for a in alerts if a.access_key_id}
        ),
        "assumed_roles": sorted(
            roles, key=lambda r: (str(r["role_arn"]), str(r["session_access_key_id"]))
        ),
        "instances": sorted(res["instances"], key=lambda i: i["instance_id"]),
        "security_groups": sorted(res["security_groups"], key=lambda g: g["group_id"]),
        "ingress_rules": sorted(
            res["ingress_rules"], key=lambda r: (r["group_id"] or "", str(r["rule_id"]))
        ),
        "key_pairs": sorted(res["key_pairs"], key=lambda p: p["key_name"]),
        "iam": sorted(res["iam"], key=lambda r: (r["kind"], r["resource_id"])),
        "source_ips": source_ips,
        "destinations": destinations,
    }
    owners = {
        k["access_key_id"]: {
            "is_root": bool(k.get("is_root")),
            "user_name": k.get("user_name") or user_of(k.get("principal_arn")),
            "account_id": k.get("account_id"),
        }
        for k in keys
        if k["access_key_id"].startswith("AKIA")
    }
    last_activity = max([a.last_seen for a in alerts] + [x["last_seen"] for x in activity])
    plan = build_plan(
        {**scope_row, "revoke_before": f"{_ceil_minute(last_activity):%Y-%m-%dT%H:%M:%SZ}"}, owners
    )
    is_root = bool(key and owners.get(key, {}).get("is_root"))
    top = max(
        alerts,
        key=lambda a: (
            graph.SEVERITIES.index(a.severity) if a.severity in graph.SEVERITIES else 0,
            -a.first_seen.timestamp(),
        ),
    )
    return {
        "incident_id": incident_id,
        "severity": graph.severity_of(alerts),
        "title": assemble.title(principal, key, is_root, scope_row, top.title, len(alerts)),
        "principal_arn": principal,
        "access_key_id": key,
        "account_id": next((a.account_id for a in alerts if a.account_id), None),
        "started_at": started,
        "alert_time": min(a.alert_time for a in alerts),
        "detected_at": min(a.created_at for a in alerts),
        "last_seen": max(a.last_seen for a in alerts),
        "window_end": max(a.last_seen for a in alerts) + settings.tail,
        "alert_ids": [a.alert_id for a in alerts],
        "alert_count": len(alerts),
        "detection_names": sorted({a.detection_name for a in alerts}),
        "entities": [
            {"type": t_, "value": v}
            for t_, v in sorted({(t_, v) for a in alerts for t_, v in a.entities} | group.links)
        ],
        "mitre_tactics": sorted({x for a in alerts for x in a.mitre_tactics}),
        "mitre_techniques": sorted({x for a in alerts for x in a.mitre_techniques}),
        "activity": sorted(
            activity,
            key=lambda x: (x["first_seen"], x["event_source"] or "", x["event_name"] or ""),
        ),
        "scope": scope_row,
        "remediation": plan,
        "timeline": timeline,
        "_aliases": {
            p["key_pair_id"]: p["key_name"] for p in res["key_pairs"] if p.get("key_pair_id")
        },
    }


def _track_fixes(cloudtrail: DataFrame, drafts: list[dict[str, Any]]) -> None:
    """Mark each draft's plan from the successful remediation calls since its start."""
    targets = sorted(
        {a["resource_id"] for d in drafts for a in d["remediation"]}
        | {alias for d in drafts for alias in d["_aliases"]}
    )
    calls: list[dict[str, Any]] = []
    if targets:
        since = min(d["started_at"] for d in drafts)
        rows = (
            remediation_calls(
                cloudtrail.where(
                    (F.col("event_date") >= F.lit(since.date()))
                    & (F.col("event_time") >= F.lit(since))
                )
            )
            .where(F.col("target_id").isin(targets))
            .collect()
        )
        calls = [aware(r) for r in rows]
    for d in drafts:
        d["remediation"], d["fixed_at"] = mark_done(
            d["remediation"], calls, since=d["started_at"], aliases=d.pop("_aliases")
        )
        d["actions_total"] = len(d["remediation"])
        d["actions_done"] = sum(1 for a in d["remediation"] if a["done"])


CONTENT_EXCLUDED = ("updated_at", "run_id", "created_at")


def shape(value: Any, dtype: DataType) -> Any:
    """``value`` with exactly the fields of ``dtype`` (missing ones None), recursively."""
    if value is None:
        return None
    if isinstance(dtype, StructType):
        return {f.name: shape(value.get(f.name), f.dataType) for f in dtype.fields}
    if isinstance(dtype, ArrayType):
        return [shape(v, dtype.elementType) for v in value]
    return value


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def canon(row: Mapping[str, Any]) -> str:
        shaped = shape(row, INCIDENTS)
        return json.dumps(
            {k: v for k, v in shaped.items() if k not in CONTENT_EXCLUDED},
            sort_keys=True,
            default=str,
        )

    return canon(a) == canon(b)


def _finalize(
    drafts: list[tuple[dict[str, Any], list[str]]],
    prior: Mapping[str, dict[str, Any]],
    run_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Carry manual state over from ``prior``, set status, and keep only rows that changed."""
    out = []
    for draft, merged in drafts:
        old = prior.get(draft["incident_id"], {})
        previous_done = {
            (a["action"], a["resource_id"]): a
            for a in old.get("remediation") or []
            if a.get("done")
        }
        for action in draft["remediation"]:  # an action once seen done stays done
            kept = previous_done.get((action["action"], action["resource_id"]))
            if kept and not action["done"]:
                action.update(
                    done=True, done_at=kept["done_at"], done_by_event_id=kept["done_by_event_id"]
                )
        draft["actions_done"] = sum(1 for a in draft["remediation"] if a["done"])
        if draft["remediation"] and all(a["done"] for a in draft["remediation"]):
            draft["fixed_at"] = max(a["done_at"] for a in draft["remediation"])
        grew = bool(set(draft["alert_ids"]) - set(old.get("alert_ids") or []))
        manual = {
            k: old.get(k)
            for k in (
                "acknowledged_at",
                "acknowledged_by",
                "resolved_at",
                "resolved_by",
                "resolution_note",
            )
        }
        if old.get("status") == "resolved" and grew:  # new alerts reopen a resolved incident
            manual.update(resolved_at=None, resolved_by=None)
        if manual.get("resolved_at"):
            status = "resolved"
        elif draft["fixed_at"] is not None:
            status = "fixed"
        elif manual.get("acknowledged_at"):
            status = "acknowledged"
        else:
            status = "open"
        row = {
            **draft,
            **manual,
            "status": status,
            "merged_into": None,
            "created_at": old.get("created_at") or now,
            "updated_at": now,
            "run_id": run_id,
        }
        if not old or not _same(row, old):
            out.append(row)
        for gone in merged:
            if gone in prior and prior[gone]["status"] != "merged":
                out.append(
                    {
                        **prior[gone],
                        "status": "merged",
                        "merged_into": draft["incident_id"],
                        "updated_at": now,
                        "run_id": run_id,
                    }
                )
    return out
