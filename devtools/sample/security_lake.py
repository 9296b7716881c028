"""CloudTrail events and flow-log records as Amazon Security Lake writes them: OCSF 1.1 API
Activity (class 6003) and Network Activity (class 4001) rows in Parquet, under
``aws/<SOURCE>/2.0/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/``, one object per
source and hour.

The field mapping is AWS's CloudTrail and VPC Flow Logs to OCSF mapping; source fields without an
OCSF attribute go to ``unmapped`` (JSON text for objects).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from devtools.sample.flowlogs import V5_INDEX, Record
from devtools.sample.ids import LAST_STAMP, Clock, Ids
from devtools.sample.landscape import V5_FIELDS
from devtools.sample.output import Count, Sink

S = pa.string()
_ACCOUNT = pa.struct([("uid", S)])
_METADATA = pa.struct([
    ("uid", S), ("version", S), ("event_code", S),
    ("product", pa.struct([("name", S), ("version", S), ("vendor_name", S),
                           ("feature", pa.struct([("name", S)]))])),
])
_CLOUD = pa.struct([("provider", S), ("region", S), ("zone", S), ("account", _ACCOUNT)])
API_ACTIVITY = pa.schema([
    ("class_uid", pa.int32()), ("category_uid", pa.int32()), ("type_uid", pa.int64()),
    ("activity_id", pa.int32()), ("severity_id", pa.int32()), ("status", S),
    ("time", pa.int64()), ("time_dt", pa.timestamp("ms", tz="UTC")), ("metadata", _METADATA),
    ("api", pa.struct([
        ("operation", S), ("version", S), ("service", pa.struct([("name", S)])),
        ("request", pa.struct([("uid", S), ("data", S)])),
        ("response", pa.struct([("error", S), ("message", S), ("data", S)])),
    ])),
    ("actor", pa.struct([
        ("user", pa.struct([("type", S), ("uid", S), ("uid_alt", S), ("name", S),
                            ("credential_uid", S), ("account", _ACCOUNT)])),
        ("session", pa.struct([("created_time_dt", pa.timestamp("ms", tz="UTC")),
                               ("is_mfa", pa.bool_()), ("issuer", S)])),
        ("invoked_by", S),
    ])),
    ("src_endpoint", pa.struct([("ip", S), ("domain", S), ("uid", S)])),
    ("http_request", pa.struct([("user_agent", S)])),
    ("cloud", _CLOUD),
    ("resources", pa.list_(pa.struct([("uid", S), ("type", S),
                                      ("owner", pa.struct([("account", _ACCOUNT)]))]))),
    ("unmapped", pa.map_(S, S)),
])
_ENDPOINT = pa.struct([
    ("ip", S), ("port", pa.int32()), ("intermediate_ips", pa.list_(S)), ("svc_name", S),
    ("interface_uid", S), ("vpc_uid", S), ("instance_uid", S), ("subnet_uid", S),
])
NETWORK_ACTIVITY = pa.schema([
    ("class_uid", pa.int32()), ("category_uid", pa.int32()), ("activity_id", pa.int32()),
    ("type_uid", pa.int64()), ("severity_id", pa.int32()),
    ("time", pa.int64()), ("start_time", pa.int64()), ("end_time", pa.int64()),
    ("metadata", _METADATA), ("cloud", _CLOUD),
    ("src_endpoint", _ENDPOINT), ("dst_endpoint", _ENDPOINT),
    ("connection_info", pa.struct([("protocol_num", pa.int32()), ("tcp_flags", pa.int32()),
                                   ("direction", S), ("boundary_id", pa.int32())])),
    ("traffic", pa.struct([("packets", pa.int64()), ("bytes", pa.int64())])),
    ("action", S), ("action_id", pa.int32()), ("disposition", S), ("status_code", S),
    ("unmapped", pa.map_(S, S)),
])
# CloudTrail fields the API Activity mapping carries in named attributes.
_MAPPED = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
           "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
           "responseElements", "requestID", "eventID", "resources", "eventType", "apiVersion",
           "vpcEndpointId", "eventCategory"}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _millis(iso: str) -> int:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _product(name: str, version: str | None, feature: str | None) -> dict[str, Any]:
    return {"uid": None, "version": "1.1.0", "event_code": None,
            "product": {"name": name, "version": version, "vendor_name": "AWS",
                        "feature": {"name": feature}}}


def api_activity(event: dict[str, Any]) -> dict[str, Any]:
    """One CloudTrail event as a Security Lake API Activity row."""
    ui = event.get("userIdentity") or {}
    ctx = ui.get("sessionContext") or {}
    attrs, issuer = ctx.get("attributes") or {}, ctx.get("sessionIssuer") or {}
    source = event.get("sourceIPAddress")
    is_ip = source is not None and all(c in "0123456789abcdefABCDEF:." for c in source)
    unmapped = {k: v if isinstance(v, str) else _json(v)
                for k, v in event.items() if k not in _MAPPED and v is not None}
    if issuer.get("type"):
        unmapped["userIdentity.sessionContext.sessionIssuer.type"] = issuer["type"]
    metadata = _product("CloudTrail", event.get("eventVersion"), event.get("eventCategory"))
    metadata.update(uid=event.get("eventID"), event_code=event.get("eventType"))
    mfa = attrs.get("mfaAuthenticated")
    created = attrs.get("creationDate")
    return {
        "class_uid": 6003, "category_uid": 6, "type_uid": 600399, "activity_id": 99,
        "severity_id": 1, "status": "Failure" if event.get("errorCode") else "Success",
        "time": _millis(event["eventTime"]),
        "time_dt": datetime.fromtimestamp(_millis(event["eventTime"]) / 1000, UTC),
        "metadata": metadata,
        "api": {"operation": event.get("eventName"), "version": event.get("apiVersion"),
                "service": {"name": event.get("eventSource")},
                "request": {"uid": event.get("requestID"),
                            "data": _json(event.get("requestParameters"))},
                "response": {"error": event.get("errorCode"),
                             "message": event.get("errorMessage"),
                             "data": _json(event.get("responseElements"))}},
        "actor": {
            "user": {"type": ui.get("type"), "uid": ui.get("arn"), "uid_alt": ui.get("principalId"),
                     "name": ui.get("userName"), "credential_uid": ui.get("accessKeyId"),
                     "account": {"uid": ui.get("accountId")}},
            "session": {"created_time_dt": (datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
                                            .replace(tzinfo=UTC) if created else None),
                        "is_mfa": None if mfa is None else str(mfa).lower() == "true",
                        "issuer": issuer.get("arn")},
            "invoked_by": ui.get("invokedBy"),
        },
        "src_endpoint": {"ip": source if is_ip else None, "domain": None if is_ip else source,
                         "uid": event.get("vpcEndpointId")},
        "http_request": {"user_agent": event.get("userAgent")},
        "cloud": {"provider": "AWS", "region": event.get("awsRegion"), "zone": None,
                  "account": {"uid": event.get("recipientAccountId")}},
        "resources": [{"uid": r.get("ARN"), "type": r.get("type"),
                       "owner": {"account": {"uid": r.get("accountId")}}}
                      for r in event.get("resources") or []],
        "unmapped": sorted(unmapped.items()),
    }


def _int(value: str | None) -> int | None:
    return None if value in (None, "-") else int(value)


def _text(value: str | None) -> str | None:
    return None if value in (None, "-") else value


def network_activity(flow: dict[str, str]) -> dict[str, Any]:
    """One flow-log record (field -> text, as the text delivery writes it) as a Security Lake
    Network Activity row."""
    f = {k: _text(v) for k, v in flow.items()}
    direction = f.get("flow-direction")
    here = {"interface_uid": f.get("interface-id"), "vpc_uid": f.get("vpc-id"),
            "instance_uid": f.get("instance-id"), "subnet_uid": f.get("subnet-id")}
    none = dict.fromkeys(here)

    def endpoint(addr: str, pkt: str, port: str, svc: str, local: bool) -> dict[str, Any]:
        packet = f.get(pkt)
        moved = packet is not None and packet != f.get(addr)
        return {"ip": packet if moved else f.get(addr), "port": _int(f.get(port)),
                "intermediate_ips": [f.get(addr)] if moved else None, "svc_name": f.get(svc),
                **(here if local else none)}

    allowed = {"ACCEPT": "Allowed", "REJECT": "Denied"}.get(f.get("action") or "")
    start, end = _int(f.get("start")), _int(f.get("end"))
    return {
        "class_uid": 4001, "category_uid": 4, "activity_id": 6, "type_uid": 400106,
        "severity_id": 1, "time": start * 1000 if start is not None else None,
        "start_time": start * 1000 if start is not None else None,
        "end_time": end * 1000 if end is not None else None,
        "metadata": _product("Amazon VPC", f.get("version"), "Flowlogs"),
        "cloud": {"provider": "AWS", "region": f.get("region"), "zone": f.get("az-id"),
                  "account": {"uid": f.get("account-id")}},
        "src_endpoint": endpoint("srcaddr", "pkt-srcaddr", "srcport", "pkt-src-aws-service",
                                 direction != "ingress"),
        "dst_endpoint": endpoint("dstaddr", "pkt-dstaddr", "dstport", "pkt-dst-aws-service",
                                 direction == "ingress"),
        "connection_info": {"protocol_num": _int(f.get("protocol")),
                            "tcp_flags": _int(f.get("tcp-flags")),
                            "direction": {"ingress": "Inbound", "egress": "Outbound"}.get(
                                direction or ""),
                            "boundary_id": None},
        "traffic": {"packets": _int(f.get("packets")), "bytes": _int(f.get("bytes"))},
        "action": allowed, "action_id": {"Allowed": 1, "Denied": 2}.get(allowed or ""),
        "disposition": allowed, "status_code": f.get("log-status"), "unmapped": [],
    }


def object_key(source: str, region: str, account: str, day: str, name: str) -> str:
    """``aws/<source>/2.0/region=.../accountId=.../eventDay=YYYYMMDD/<name>.gz.parquet``."""
    return (f"aws/{source}/2.0/region={region}/accountId={account}/"
            f"eventDay={day.replace('-', '')}/{name}.gz.parquet")


def parquet_bytes(rows: list[dict[str, Any]], schema: pa.Schema) -> bytes:
    """Rows as a gzip-compressed Parquet object."""
    out = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out, compression="gzip")
    return bytes(out.getvalue().to_pybytes())


def write_rows(path: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Rows as a gzip-compressed Parquet object at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(parquet_bytes(rows, schema))


def _write_hourly(
    sink: Sink, ids: Ids, clock: Clock, source: str, region: str, account: str,
    timed: Iterable[tuple[int, Any]], row: Callable[[Any], dict[str, Any]], schema: pa.Schema,
) -> Count:
    """Write ``(second-of-day, item)`` pairs (in time order) as one object per hour, delivered
    at the end of the hour (kept inside the day)."""
    count = Count()
    for hour, group in groupby(timed, key=lambda ti: ti[0] // 3600):
        rows = [row(item) for _, item in group]
        key = object_key(source, region, account, clock.prefix, ids.uuid())
        delivered = min((hour + 1) * 3600, LAST_STAMP) // 3600
        if sink.put(key, parquet_bytes(rows, schema), compress=False, hour=delivered):
            count.add(len(rows))
    return count


def write_api_activity(
    sink: Sink, ids: Ids, clock: Clock, account: str, region: str,
    timed: Iterable[tuple[int, dict[str, Any]]],
) -> Count:
    """Time-ordered CloudTrail records of one account and region as ``CLOUD_TRAIL_MGMT``
    objects."""
    return _write_hourly(sink, ids, clock, "CLOUD_TRAIL_MGMT", region, account, timed,
                         api_activity, API_ACTIVITY)


def write_network_activity(
    sink: Sink, ids: Ids, clock: Clock, account: str, region: str,
    timed: Iterable[tuple[int, Record]],
) -> Count:
    """Time-ordered flow records of one account and region as ``VPC_FLOW`` objects, with every
    field of the custom v5 format (Security Lake runs flow logs of its own)."""
    def row(rec: Record) -> dict[str, Any]:
        return network_activity({f: str(rec[V5_INDEX[f]]) for f in V5_FIELDS})

    return _write_hourly(sink, ids, clock, "VPC_FLOW", region, account, timed, row,
                         NETWORK_ACTIVITY)
