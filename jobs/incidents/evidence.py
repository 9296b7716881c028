"""Evidence: every read, join and collect of the incident step, in one place.

``gather`` selects the alerts to regroup, finds who created the resources they name, groups the
alerts (``graph``, plain Python) and collects, per incident, what its identities did, touched and
created, where its instances talked to and which mining-pool names they looked up.
``fix_calls`` collects the remediation calls that name a plan's resources (it runs after the plans
are drafted, because the plans name the targets).
Everything returned is plain Python (frozen dataclasses; rows as dicts with aware UTC times):
drafting, planning and rendering happen in other modules, without Spark.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, StringType, StructField, StructType, TimestampType

from jobs.enrich.asn import with_asn
from jobs.incidents import assemble, graph, lookups, scope
from jobs.incidents.extract import created_resources, remediation_calls
from jobs.incidents.model import Evidence, IncidentEvidence, Rows, aware
from jobs.incidents.settings import Settings
from jobs.runtime.frames import local_frame, materialize, release
from schemas.alerts import UNDELIVERED_STATUSES

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
POOLS = StructType(
    [StructField("pool", StringType()), StructField("with_subdomains", BooleanType())]
)
DNS_LOOKUPS_KEPT = 10  # per incident; the rest are counted (``dns_lookups_total``)
# alert entity type -> resource type in ``extract.created_resources``
OWNED_TYPES = {
    "instance": "instance",
    "eni": "eni",
    "security_group": "security_group",
    "key_pair": "key_pair",
    "access_key": "session",
}


@dataclass(frozen=True)
class Sources:
    """The frames correlation reads: ``gold/alerts``, silver CloudTrail and flow records, the
    ASN ranges (None: no ASN enrichment), the Resolver queries with their view columns
    (``query_domain``, ``answer_names``, ``answer_ips``; None: no DNS evidence) and the
    mining-pool names of the intel list as ``(name, with_subdomains)``."""

    alerts: DataFrame
    cloudtrail: DataFrame
    flows: DataFrame
    ranges: DataFrame | None = None
    dns: DataFrame | None = None
    pools: tuple[tuple[str, bool], ...] = ()


def pool_names(intel: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    """The intel list's pool hosts (exact) and pool domains (with their subdomains)."""
    return tuple((d, False) for d in intel["mining_pool_domains"]) + tuple(
        (d, True) for d in intel["mining_pool_domain_suffixes"]
    )


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


def recent_alerts(
    alerts: DataFrame, lookback: timedelta, keep_ids: Iterable[str]
) -> list[graph.Alert]:
    """Alerts seen within ``lookback`` of the newest one, plus ``keep_ids`` (the alerts of
    incidents still in progress)."""
    alerts = alerts.where(~F.col("status").isin(*UNDELIVERED_STATUSES))  # suppressed, dry run
    newest = alerts.agg(F.max("last_seen")).first()[0]
    if newest is None:
        return []
    since = aware(newest) - lookback
    keep = sorted(set(keep_ids))
    cond = F.col("last_seen") >= F.lit(since)
    if keep:
        cond = cond | F.col("alert_id").isin(keep)
    return [to_alert(r.asDict(recursive=True)) for r in alerts.where(cond).collect()]


def resource_owners(
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
            owner = graph.creator(h["access_key_id"], h["principal_arn"])
            if owner is None:
                continue
            owners[(h["link_type"], h["link_value"])].add(owner)
            if owner[0] == "access_key":
                wanted.add(owner)
    return dict(owners)


def _by_incident(rows: Iterable[Row]) -> dict[str, Rows]:
    """Collected rows as aware dicts, grouped by their ``incident_id`` (which is dropped)."""
    out: dict[str, Rows] = defaultdict(list)
    for r in rows:
        d = aware(r.asDict(recursive=True))
        out[d.pop("incident_id")].append(d)
    return out


def _identity_rows(
    groups: Sequence[tuple[str, graph.Group, list[str]]], settings: Settings
) -> list[tuple[Any, ...]]:
    """``IDENTITIES`` rows: each group's keys and principals with its history range."""
    rows = []
    for incident_id, group, _ in groups:
        anchor = group.first_seen
        end = max(a.last_seen for a in group.alerts) + settings.tail
        history_start = anchor - timedelta(days=settings.history_days)
        for kind, value in sorted(group.links):
            if kind in graph.IDENTITY_TYPES:
                rows.append((incident_id, kind, value, anchor, history_start, end))
    return rows


def _network_evidence(
    sources: Sources, nic_rows: list[tuple[Any, ...]], since: datetime, until: datetime
) -> tuple[dict[str, Rows], dict[str, Rows], dict[str, Rows]]:
    """Per incident: public peers of its instances, bytes per minute and their mining-pool
    lookups (``lookups.lookup_summary`` rows); empty without NICs."""
    if not nic_rows:
        return {}, {}, {}
    low = since - timedelta(hours=1)
    days = F.col("event_date").between(F.lit(low.date()), F.lit(until.date()))
    flow_window = sources.flows.where(days & F.col("start_time").between(F.lit(low), F.lit(until)))
    nics = local_frame(sources.flows.sparkSession, nic_rows, NICS)
    inc_flows = materialize(scope.incident_flows(flow_window, nics))
    peer_df = scope.peers(inc_flows)
    if sources.ranges is not None:
        peer_df = with_asn(peer_df, "ip", sources.ranges, prefix="")
    peers = _by_incident(peer_df.collect())
    minute_bytes = _by_incident(scope.minute_bytes(inc_flows).collect())
    found: dict[str, Rows] = {}
    if sources.dns is not None and sources.pools:
        queries = sources.dns.where(days & F.col("query_time").between(F.lit(low), F.lit(until)))
        pools = local_frame(sources.flows.sparkSession, list(sources.pools), POOLS)
        matched = lookups.pool_lookups(queries, nics, pools)
        found = _by_incident(
            lookups.lookup_summary(matched, inc_flows, DNS_LOOKUPS_KEPT).collect()
        )
    release(inc_flows)
    return peers, minute_bytes, found


def gather(
    sources: Sources,
    settings: Settings,
    keep_ids: Iterable[str],
    alert_owner: Mapping[str, tuple[str, datetime]],
) -> Evidence:
    """The groups of the recent alerts and the evidence of each (see the module docstring).

    ``keep_ids``: alerts of incidents still in progress, regrouped whatever their age.
    ``alert_owner``: alert id -> (incident id, created_at) of the active incidents, so that a
    group keeps its incident's id (``graph.assign_ids``).
    """
    spark: SparkSession = sources.alerts.sparkSession
    chosen = recent_alerts(sources.alerts, settings.lookback, keep_ids)
    if not chosen:
        return Evidence([], {})
    first = min(a.first_seen for a in chosen)
    last = max(a.last_seen for a in chosen)
    lo, hi = first - timedelta(days=settings.history_days), last + settings.tail
    events = sources.cloudtrail.where(
        F.col("event_date").between(F.lit(lo.date()), F.lit(hi.date()))
        & F.col("event_time").between(F.lit(lo), F.lit(hi))
    )
    created_all = materialize(created_resources(events))
    owners = resource_owners(created_all, chosen)
    groups = graph.assign_ids(graph.group_alerts(chosen, owners, settings.window), alert_owner)
    log.info("incidents: %d alerts -> %d incidents", len(chosen), len(groups))

    identities = local_frame(spark, _identity_rows(groups, settings), IDENTITIES)
    inc_events = materialize(scope.incident_events(events, identities))
    starts_df = materialize(
        scope.session_starts(inc_events, int(settings.session_gap.total_seconds()))
    )
    starts = {r["incident_id"]: aware(r.asDict(recursive=True)) for r in starts_df.collect()}
    window_events = scope.in_incident_window(inc_events, starts_df)
    activity = _by_incident(scope.activity(window_events).collect())
    touched = _by_incident(scope.touched(window_events).collect())
    call_sources = scope.call_sources(window_events)
    if sources.ranges is not None:
        call_sources = with_asn(call_sources, "ip", sources.ranges, prefix="")
    source_rows = _by_incident(call_sources.collect())
    minute_calls = _by_incident(scope.minute_calls(window_events).collect())
    keys = _by_incident(scope.key_usage(window_events).collect())
    windows = scope.identity_windows(identities, starts_df)
    created = _by_incident(scope.created_by(created_all, windows).collect())
    for kept in (starts_df, inc_events, created_all):
        release(kept)

    resources = {iid: assemble.resources(created.get(iid, [])) for iid, _, _ in groups}
    nic_rows = [
        (iid, n["instance_id"], n["eni_id"], n["private_ip"], n["account_id"], n["vpc_id"])
        for iid, res in resources.items()
        for n in assemble.nics(res["instances"])
    ]
    peers, minute_bytes, dns = _network_evidence(sources, nic_rows, first, hi)
    return Evidence(
        groups,
        {
            iid: IncidentEvidence(
                start=starts.get(iid),
                activity=activity.get(iid, []),
                touched=(touched.get(iid) or [None])[0],
                sources=source_rows.get(iid, []),
                keys=keys.get(iid, []),
                resources=resources[iid],
                peers=peers.get(iid, []),
                minute_calls=minute_calls.get(iid, []),
                minute_bytes=minute_bytes.get(iid, []),
                dns_lookups=dns.get(iid, []),
            )
            for iid, _, _ in groups
        },
    )


def fix_calls(cloudtrail: DataFrame, targets: Sequence[str], since: datetime) -> Rows:
    """``extract.remediation_calls`` rows (aware dicts) at or after ``since`` whose target is
    one of ``targets``; none without targets."""
    if not targets:
        return []
    rows = (
        remediation_calls(
            cloudtrail.where(
                (F.col("event_date") >= F.lit(since.date())) & (F.col("event_time") >= F.lit(since))
            )
        )
        .where(F.col("target_id").isin(list(targets)))
        .collect()
    )
    return [aware(r.asDict(recursive=True)) for r in rows]
