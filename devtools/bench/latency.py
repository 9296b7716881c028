"""The latency measurement's new delivery and its clock: from a process start to an alert's commit.

``new_delivery`` writes, into a landing zone that already holds a day, the next 5-minute delivery
of CloudTrail and flow logs: every account and region's newest flow-log file again with its
records moved 5 minutes later, and one CloudTrail file holding a root access-key call made
through an SDK from the address the day's own root-key calls came from (a hosting network in
the sample), one minute after the day's newest event. ``alert_committed_at`` reads
``gold/alerts``'s Delta log (with delta-rs, no JVM) for the first version holding that alert.
"""

from __future__ import annotations

import gzip
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_STAMP = re.compile(r"_(\d{8}T\d{4})Z_")
SHIFT = timedelta(minutes=5)
DETECTION = "root_access_key_used"


def _stamp(path: Path) -> datetime | None:
    match = _STAMP.search(path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)


def _root_sdk_call(cloudtrail: list[Path]) -> tuple[dict[str, Any], Path, datetime]:
    """A root access-key call through an SDK from the landing zone, the file it came from, and
    the newest event time of all CloudTrail files."""
    template: tuple[dict[str, Any], Path] | None = None
    newest = datetime.min.replace(tzinfo=UTC)
    for path in cloudtrail:
        with gzip.open(path, "rt") as fh:
            records = json.load(fh).get("Records") or []
        for r in records:
            when = datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00"))
            newest = max(newest, when)
            who = r.get("userIdentity") or {}
            if (
                template is None and who.get("type") == "Root"
                and str(who.get("accessKeyId", "")).startswith("AKIA")
                and "sdk" in str(r.get("userAgent", "")).lower()
            ):
                template = (r, path)
    if template is None:
        raise ValueError("the landing zone holds no root access-key call through an SDK to copy.")
    return template[0], template[1], newest


def _renamed(path: Path, old: datetime, new: datetime) -> Path:
    name = path.name.replace(f"_{old:%Y%m%dT%H%M}Z_", f"_{new:%Y%m%dT%H%M}Z_")
    head, dot, tail = name.partition(".")
    stem, _, _ = head.rpartition("_")
    folder = Path(str(path.parent).replace(f"/{old:%Y/%m/%d}", f"/{new:%Y/%m/%d}"))
    return folder / f"{stem}_{uuid.uuid4().hex[:16]}{dot}{tail}"


def _shifted_flows(path: Path, seconds: int) -> bytes:
    with gzip.open(path, "rt") as fh:
        header, *lines = fh.read().splitlines()
    names = header.split()
    at = [names.index(n) for n in ("start", "end") if n in names]
    out = [header]
    for line in lines:
        values = line.split()
        for i in at:
            if values[i].isdigit():
                values[i] = str(int(values[i]) + seconds)
        out.append(" ".join(values))
    return gzip.compress(("\n".join(out) + "\n").encode())


def new_delivery(cloudtrail: list[Path], vpcflow: list[Path]) -> dict[str, Any]:
    """Write the next delivery beside the given files; return its files and the root call."""
    record, source, newest = _root_sdk_call(cloudtrail)
    at = newest + timedelta(minutes=1)
    call = {
        **record,
        "eventID": str(uuid.uuid4()),
        "requestID": str(uuid.uuid4()),
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    written = []
    old = _stamp(source)
    delivered = (at + SHIFT).replace(second=0, microsecond=0)
    if old is not None:
        target = _renamed(source, old, delivered)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(json.dumps({"Records": [call]}).encode()))
        written.append(target)
    newest_flow: dict[Path, tuple[datetime, Path]] = {}
    for path in vpcflow:
        stamp = _stamp(path)
        known = newest_flow.get(path.parent)
        if stamp is not None and (known is None or stamp > known[0]):
            newest_flow[path.parent] = (stamp, path)
    for stamp, path in newest_flow.values():
        target = _renamed(path, stamp, stamp + SHIFT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_shifted_flows(path, int(SHIFT.total_seconds())))
        written.append(target)
    return {
        "files": [str(p) for p in written],
        "event_time": at.isoformat(),
        "access_key_id": record["userIdentity"]["accessKeyId"],
        "source_ip": record.get("sourceIPAddress"),
    }


def alert_committed_at(
    alerts_path: Path, access_key_id: str, event_time: datetime, since: datetime
) -> datetime | None:
    """The commit time of the first ``gold/alerts`` version committed after ``since`` holding a
    ``root_access_key_used`` alert for ``access_key_id`` last seen at or after ``event_time``;
    None when none does."""
    from deltalake import DeltaTable

    table = DeltaTable(str(alerts_path))
    for entry in sorted(table.history(), key=lambda h: h["version"]):
        if entry["timestamp"] < since.timestamp() * 1000:
            continue
        version = entry["version"]
        rows = DeltaTable(str(alerts_path), version=version).to_pandas(
            columns=["detection_name", "access_key_id", "last_seen"]
        )
        hit = rows[
            (rows.detection_name == DETECTION) & (rows.access_key_id == access_key_id)
        ]
        if len(hit) and any(
            ts.to_pydatetime().replace(tzinfo=UTC) >= event_time.replace(second=0)
            for ts in hit.last_seen
        ):
            return datetime.fromtimestamp(entry["timestamp"] / 1000, tz=UTC)
    return None
