"""Turning the collected per-incident rows into the incident's scope (plain Python, small data)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

IAM_KINDS = {
    "iam_user": "user",
    "iam_access_key": "access_key",
    "iam_login_profile": "login_profile",
    "iam_policy": "policy",
    "iam_policy_attachment": "user_policy_attachment",
    "iam_inline_policy": "inline_policy",
    "iam_role_policy_attachment": "role_policy_attachment",
    "iam_role_inline_policy": "role_inline_policy",
    "iam_group_membership": "group_membership",
    "iam_trust_policy": "trust_policy",
}


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _split(value: str | None) -> list[str]:
    return sorted({v for v in (value or "").split(",") if v})


def resources(created: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``instances``, ``security_groups``, ``ingress_rules``, ``key_pairs``, ``iam`` and
    ``assumed_roles`` from one incident's ``scope.created_by`` rows (first creation wins)."""
    rows = sorted(created, key=lambda r: (r["event_time"], r["event_id"], r["resource_id"]))
    out: dict[str, dict[Any, dict[str, Any]]] = {
        k: {}
        for k in (
            "instances",
            "security_groups",
            "ingress_rules",
            "key_pairs",
            "iam",
            "assumed_roles",
        )
    }
    for r in rows:
        attrs = r.get("attrs") or {}
        kind, rid = r["resource_type"], r["resource_id"]
        where = {"account_id": r.get("account_id"), "region": r.get("region")}
        if kind == "instance":
            out["instances"].setdefault(
                rid,
                {
                    "instance_id": rid,
                    "instance_type": attrs.get("instance_type"),
                    "image_id": attrs.get("image_id"),
                    "key_name": attrs.get("key_name"),
                    "vpc_id": attrs.get("vpc_id"),
                    "eni_ids": _split(attrs.get("eni_ids")),
                    "private_ips": _split(attrs.get("private_ips")),
                    "group_ids": _split(attrs.get("group_ids")),
                    "launched_at": r["event_time"],
                    "launch_event_id": r["event_id"],
                    **where,
                },
            )
        elif kind == "security_group":
            out["security_groups"][rid] = {
                "group_id": rid,
                "group_name": attrs.get("group_name"),
                "vpc_id": attrs.get("vpc_id"),
                "created": True,
                "created_at": r["event_time"],
                **where,
            }
        elif kind == "sg_rule":
            out["ingress_rules"].setdefault(
                (r.get("parent_id"), rid),
                {
                    "group_id": r.get("parent_id"),
                    "rule_id": attrs.get("rule_id"),
                    "protocol": attrs.get("protocol"),
                    "cidr": attrs.get("cidr"),
                    "from_port": _int(attrs.get("from_port")),
                    "to_port": _int(attrs.get("to_port")),
                    "added_at": r["event_time"],
                    **where,
                },
            )
        elif kind == "key_pair":
            out["key_pairs"].setdefault(
                (r.get("account_id"), r.get("region"), rid),
                {
                    "key_name": rid,
                    "key_pair_id": attrs.get("key_pair_id"),
                    "event_name": r.get("event_name"),
                    "created_at": r["event_time"],
                    **where,
                },
            )
        elif kind in IAM_KINDS:
            out["iam"].setdefault(
                (kind, rid, r.get("parent_id")),
                {
                    "kind": IAM_KINDS[kind],
                    "resource_id": rid,
                    "user_name": r.get("parent_id"),
                    "policy_arn": rid
                    if kind in ("iam_policy", "iam_policy_attachment", "iam_role_policy_attachment")
                    else None,
                    "account_id": r.get("account_id"),
                    "created_at": r["event_time"],
                },
            )
        elif kind == "session":
            out["assumed_roles"].setdefault(
                rid,
                {
                    "role_arn": attrs.get("role_arn"),
                    "session_arn": attrs.get("session_arn"),
                    "session_access_key_id": rid,
                    "account_id": r.get("account_id"),
                    "assumed_at": r["event_time"],
                },
            )
    groups = out["security_groups"]
    for rule in out["ingress_rules"].values():
        gid = rule["group_id"]
        if gid and gid not in groups:  # a rule added to a group the identities did not create
            groups[gid] = {
                "group_id": gid,
                "group_name": None,
                "vpc_id": None,
                "created": False,
                "created_at": None,
                "account_id": rule["account_id"],
                "region": rule["region"],
            }
    return {k: list(v.values()) for k, v in out.items()}


def nics(instances: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (instance, interface, private address) for the flow join."""
    out = []
    for i in instances:
        enis = i["eni_ids"] or [None]
        ips = i["private_ips"] or [None]
        for eni in enis:
            for ip in ips:
                out.append(
                    {
                        "instance_id": i["instance_id"],
                        "eni_id": eni,
                        "private_ip": ip,
                        "account_id": i.get("account_id"),
                        "vpc_id": i.get("vpc_id"),
                    }
                )
    return out


def timeline(
    calls: Iterable[Mapping[str, Any]], flow_bytes: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Per-minute points: API calls (all, and changing ones) and bytes to public peers."""
    points: dict[datetime, dict[str, Any]] = {}

    def point(minute: datetime) -> dict[str, Any]:
        empty = {"minute": minute, "api_calls": 0, "write_calls": 0, "flow_bytes": 0}
        return points.setdefault(minute, empty)

    for c in calls:
        p = point(c["minute"])
        p["api_calls"] += int(c["api_calls"])
        p["write_calls"] += int(c["write_calls"])
    for f in flow_bytes:
        point(f["minute"])["flow_bytes"] += int(f["flow_bytes"] or 0)
    return [points[m] for m in sorted(points)]


def title(
    principal: str | None,
    key: str | None,
    is_root: bool,
    scope: Mapping[str, Any],
    top_alert: str,
    n: int,
) -> str:
    """A one-line summary: who, from where, and the impact found."""
    who = (
        f"Root access key {key}" if is_root and key else (f"Access key {key}" if key else principal)
    )
    if who is None:  # no identity (a finding on a resource): the alert says it best
        return top_alert + (f" (+{n - 1} related alerts)" if n > 1 else "")
    impact = []
    instances = scope.get("instances") or []
    if instances:
        types = sorted({str(i.get("instance_type")) for i in instances})
        impact.append(f"{len(instances)} {'/'.join(types)} instances launched")
    outbound = [d for d in scope.get("destinations") or [] if d.get("direction") == "outbound"]
    if outbound:
        top = max(outbound, key=lambda d: d.get("bytes") or 0)
        impact.append(f"traffic to {top['ip']}:{top['port']}")
    ips = [
        s["ip"] for s in scope.get("source_ips") or [] if "cloudtrail" in (s.get("seen_in") or "")
    ]
    where = f" from {', '.join(ips[:2])}" if ips else ""
    if impact:
        return f"{who}{where}: {', '.join(impact)} ({n} alerts)"
    return f"{who}{where}: {top_alert}" + (f" (+{n - 1} related alerts)" if n > 1 else "")
