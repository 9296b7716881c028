"""OCSF 1.5 Detection Finding (class 2004) records, as Parquet (what Amazon Security Lake takes)
or JSON lines, under a local path or ``s3a://`` prefix in the Security Lake custom-source layout:
``<path>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<file>``.

A batch's file name is derived from its delivery ids, so a re-run after a crash rewrites the same
file instead of adding a second copy; every record's ``metadata.uid`` is its delivery id."""

from __future__ import annotations

import hashlib
import io
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.delivery.context import Context
from jobs.delivery.model import Delivery, Outcome
from jobs.delivery.render import details, resources, summary
from jobs.delivery.retry import DeliveryError
from jobs.delivery.settings import Destination
from jobs.runtime.times import utc

OCSF_VERSION = "1.5.0"
SCHEMA: dict[str, Any] = {
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "format": {"enum": ["parquet", "jsonl"]},
        "region": {"type": "string"},
        "account_id": {"type": ["string", "integer"]},
    },
    "required": ["path"],
}
SECRETS: dict[str, bool] = {}
# A re-send rewrites the same file name.
DEDUPLICATES = True
SEVERITY_ID = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
ACTIVITY_ID = {"trigger": 1, "alert": 1, "test": 1, "update": 2, "resolve": 3}
STATUS_ID = {"open": 1, "acknowledged": 2, "fixed": 4, "resolved": 4, "merged": 5}


def _ms(value: Any) -> int | None:
    return int(utc(value).timestamp() * 1000) if isinstance(value, datetime) else None


def _attacks(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    tactics = list(doc.get("mitre_tactics") or [])
    tactic = {"name": tactics[0]} if tactics else None
    out = []
    for technique in doc.get("mitre_techniques") or []:
        attack: dict[str, Any] = {"technique": {"uid": technique, "name": technique}}
        if tactic:
            attack["tactic"] = tactic
        out.append(attack)
    return out


def record(delivery: Delivery, now: datetime, link: str | None) -> dict[str, Any]:
    """One Detection Finding for ``delivery`` (times in epoch milliseconds)."""
    doc = delivery.doc
    activity = ACTIVITY_ID[delivery.action]
    account = str(doc.get("account_id") or "")
    finding: dict[str, Any] = {
        "uid": delivery.object_id,
        "title": doc.get("title") or summary(delivery),
        "desc": summary(delivery),
        "created_time": _ms(doc.get("alert_time")),
        "first_seen_time": _ms(doc.get("started_at") or doc.get("first_seen")),
        "last_seen_time": _ms(doc.get("last_seen")),
        "types": [delivery.source],
        "analytic": {"uid": doc.get("detection_name") or "incident-correlation",
                     "name": doc.get("detection_name") or "trailwarden incident", "type_id": 1,
                     "type": "Rule"},
        "attacks": _attacks(doc),
        "src_url": link,
    }
    out: dict[str, Any] = {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity,
        "activity_name": {1: "Create", 2: "Update", 3: "Close"}[activity],
        "type_uid": 200400 + activity,
        "severity_id": SEVERITY_ID.get(delivery.severity, 0),
        "severity": delivery.severity.capitalize(),
        "status_id": STATUS_ID.get(doc.get("status") or "", 1),
        "status": doc.get("status"),
        "time": _ms(doc.get("alert_time")) or _ms(now),
        "message": summary(delivery),
        "metadata": {
            "uid": delivery.delivery_id,
            "version": OCSF_VERSION,
            "product": {"name": "trailwarden", "vendor_name": "trailwarden"},
            "correlation_uid": delivery.object_id,
        },
        "finding_info": {k: v for k, v in finding.items() if v not in (None, [])},
        "resources": [{"uid": r.split(":", 1)[1], "type": r.split(":", 1)[0]}
                      for r in resources(doc)],
        "unmapped": {k: json.dumps(v) for k, v in details(delivery, link).items()},
    }
    if account:
        out["cloud"] = {"provider": "AWS", "region": doc.get("region"),
                        "account": {"uid": account, "name": account, "type_id": 10,
                                    "type": "AWS Account"}}
        out["cloud"] = {k: v for k, v in out["cloud"].items() if v is not None}
    return {k: v for k, v in out.items() if v not in (None, [])}


def partition(dest: Destination, delivery: Delivery, now: datetime) -> str:
    """``region=.../accountId=.../eventDay=YYYYMMDD`` for one record."""
    doc = delivery.doc
    region = dest.settings.get("region") or doc.get("region") or next(
        iter(doc.get("regions") or []), "global")
    account = dest.settings.get("account_id") or doc.get("account_id") or "unknown"
    day = utc(doc.get("alert_time") or now).strftime("%Y%m%d")
    return f"region={region}/accountId={account}/eventDay={day}"


def encode(records: list[dict[str, Any]], fmt: str) -> bytes:
    """Parquet (pyarrow, nested columns) or JSON lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), sink)
    return sink.getvalue()


def write(target: str, data: bytes, conf: Mapping[str, Any]) -> None:
    """Write ``data`` to a local path or an ``s3a://``/``s3://`` URI (boto3)."""
    if target.startswith(("s3a://", "s3://")):
        from jobs.runtime.aws import s3_client

        bucket, _, key = target.split("://", 1)[1].partition("/")
        s3_client(dict(conf)).put_object(Bucket=bucket, Key=key, Body=data)
    else:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def deliver(dest: Destination, batch: Sequence[Delivery], context: Context) -> list[Outcome]:
    """Write the batch's records, one file per partition; all sent, or all failed."""
    now = datetime.now(UTC)
    fmt = dest.settings.get("format", "parquet")
    groups: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in batch:
        groups[partition(dest, delivery, now)].append(delivery)
    written = []
    try:
        for part, members in sorted(groups.items()):
            ids = "\n".join(sorted(d.delivery_id for d in members))
            name = "trailwarden-" + hashlib.sha256(ids.encode()).hexdigest()[:24]
            target = f"{dest.settings['path'].rstrip('/')}/{part}/{name}.{fmt}"
            records = [record(d, now, context.link(d, dest.settings)) for d in members]
            write(target, encode(records, fmt), context.conf)
            written.append(target)
    except Exception as exc:  # noqa: BLE001 - any write fault fails this destination, not the run
        error = DeliveryError(f"writing OCSF records failed: {type(exc).__name__}: {exc}")
        return [Outcome(d, "failed", error=str(error)) for d in batch]
    return [Outcome(d, "sent", response=", ".join(written)) for d in batch]
