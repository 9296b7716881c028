"""Grouping alerts into incidents: connected components over alert-entity edges, in Python.

Alerts are few (tens to thousands a day), so the job collects them to the driver and runs a
union-find here; the CloudTrail side (who created which resource) is Spark SQL in ``extract``.
Two alerts join when they share a linking entity and their times are within ``window`` of each
other along a chain. Linking entities are access keys, principals (not the account root ARN,
which every root session shares), instances, ENIs, security groups and key pairs; an alert's
resources also link to the identity that created them (``owners``), and a session key to the key
that minted it.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from schemas.alerts import SEVERITIES

LINK_TYPES = ("access_key", "principal", "instance", "eni", "security_group", "key_pair")
IDENTITY_TYPES = ("access_key", "principal")


@dataclass(frozen=True)
class Alert:
    """The fields of a ``gold/alerts`` row that correlation and the incident need."""

    alert_id: str
    detection_name: str
    title: str
    severity: str
    first_seen: datetime
    last_seen: datetime
    alert_time: datetime
    created_at: datetime
    account_id: str | None = None
    region: str | None = None
    principal_arn: str | None = None
    access_key_id: str | None = None
    mitre_tactics: tuple[str, ...] = ()
    mitre_techniques: tuple[str, ...] = ()
    source_ips: tuple[str, ...] = ()
    entities: tuple[tuple[str, str], ...] = ()


@dataclass
class Group:
    """One connected component: its alerts and the entities (type, value) that tie it together."""

    alerts: list[Alert]
    links: set[tuple[str, str]] = field(default_factory=set)

    @property
    def first_seen(self) -> datetime:
        return min(a.first_seen for a in self.alerts)

    @property
    def alert_ids(self) -> list[str]:
        return sorted(a.alert_id for a in self.alerts)


def is_root_arn(arn: str | None) -> bool:
    """``arn:aws:iam::<account>:root``: shared by every root session, so never a link."""
    return bool(arn) and str(arn).endswith(":root")


def creator(access_key_id: str | None, principal_arn: str | None) -> tuple[str, str] | None:
    """The identity a resource links to from its create call: the key, else the principal
    (never the account root ARN), else None."""
    if access_key_id:
        return ("access_key", access_key_id)
    if principal_arn and not is_root_arn(principal_arn):
        return ("principal", principal_arn)
    return None


def normalize(entity_type: str, value: str) -> tuple[str, str] | None:
    """The linking form of an alert entity, or None when the type does not link."""
    value = (value or "").strip()
    if not value:
        return None
    kind = "principal" if entity_type == "user" else entity_type
    if kind not in LINK_TYPES or (kind == "principal" and is_root_arn(value)):
        return None
    return kind, value


def alert_links(alert: Alert) -> set[tuple[str, str]]:
    """The linking entities an alert carries itself."""
    found = {normalize(t, v) for t, v in alert.entities}
    found.add(normalize("access_key", alert.access_key_id or ""))
    found.add(normalize("principal", alert.principal_arn or ""))
    return {f for f in found if f is not None}


def expand(
    links: set[tuple[str, str]], owners: Mapping[tuple[str, str], set[tuple[str, str]]]
) -> set[tuple[str, str]]:
    """Add the identities that created the linked resources, transitively (session -> key)."""
    out, todo = set(links), list(links)
    while todo:
        for owner in owners.get(todo.pop(), set()):
            if owner not in out:
                out.add(owner)
                todo.append(owner)
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_alerts(
    alerts: Sequence[Alert],
    owners: Mapping[tuple[str, str], set[tuple[str, str]]],
    window: timedelta,
) -> list[Group]:
    """Connected components of ``alerts``; edges join alerts sharing a linking entity whose
    times lie within ``window`` along a chain. Sorted by first alert time, then alert id."""
    ordered = sorted(alerts, key=lambda a: (a.first_seen, a.alert_id))
    links = [expand(alert_links(a), owners) for a in ordered]
    by_entity: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, entity_links in enumerate(links):
        for link in entity_links:
            by_entity[link].append(i)
    uf = _UnionFind(len(ordered))
    for members in by_entity.values():
        reach = ordered[members[0]].last_seen
        for prev, cur in zip(members, members[1:], strict=False):
            if ordered[cur].first_seen <= reach + window:  # same chain
                uf.union(prev, cur)
                reach = max(reach, ordered[cur].last_seen)
            else:  # a gap longer than the window starts a new chain
                reach = ordered[cur].last_seen
    components: dict[int, Group] = {}
    for i, alert in enumerate(ordered):
        group = components.setdefault(uf.find(i), Group([]))
        group.alerts.append(alert)
        group.links |= links[i]
    return sorted(components.values(), key=lambda g: (g.first_seen, g.alert_ids[0]))


def new_incident_id(group: Group) -> str:
    """``INC-<yyyymmdd>-<10 hex>`` from the earliest alert: the same alerts give the same id."""
    first = min(group.alerts, key=lambda a: (a.first_seen, a.alert_id))
    digest = hashlib.sha256(first.alert_id.encode()).hexdigest()[:10]
    return f"INC-{first.first_seen:%Y%m%d}-{digest}"


def assign_ids(
    groups: Sequence[Group], existing: Mapping[str, tuple[str, datetime]]
) -> list[tuple[str, Group, list[str]]]:
    """``(incident_id, group, merged_ids)`` per group.

    ``existing`` maps alert id -> (incident id, incident created_at) for active incidents. A group
    keeps the oldest incident id among its alerts; the other incidents it absorbed are returned
    as ``merged_ids``. A group without one gets ``new_incident_id``.
    """
    out = []
    for group in groups:
        known = {existing[a.alert_id] for a in group.alerts if a.alert_id in existing}
        if known:
            keep = min(known, key=lambda k: (k[1], k[0]))[0]
            merged = sorted({k[0] for k in known} - {keep})
            out.append((keep, group, merged))
        else:
            out.append((new_incident_id(group), group, []))
    return out


def severity_of(alerts: Iterable[Alert]) -> str:
    """The highest alert severity, one level higher when the alerts span three or more ATT&CK
    tactics (a chain, not a single event)."""
    alerts = list(alerts)
    rank = max(SEVERITIES.index(a.severity) if a.severity in SEVERITIES else 0 for a in alerts)
    tactics = {t for a in alerts for t in a.mitre_tactics}
    if len(tactics) >= 3:
        rank = min(rank + 1, len(SEVERITIES) - 1)
    return SEVERITIES[rank]


def primary_identity(group: Group) -> tuple[str | None, str | None]:
    """``(principal_arn, access_key_id)`` most alerts name; long-term keys (AKIA) before
    session keys; ties go to the earliest alert."""
    keys: Counter[str] = Counter()
    principals: Counter[str] = Counter()
    order: dict[str, int] = {}
    for i, alert in enumerate(sorted(group.alerts, key=lambda a: (a.first_seen, a.alert_id))):
        for value, counter in ((alert.access_key_id, keys), (alert.principal_arn, principals)):
            if value:
                counter[value] += 1
                order.setdefault(value, i)
    for kind, value in sorted(group.links):
        if kind == "access_key" and value not in keys:
            keys[value] += 0
            order.setdefault(value, len(order) + 1000)

    def best(counter: Counter[str], prefer: str = "") -> str | None:
        if not counter:
            return None
        return min(
            counter,
            key=lambda v: (not v.startswith(prefer) if prefer else False, -counter[v], order[v], v),
        )

    return best(principals), best(keys, "AKIA")
