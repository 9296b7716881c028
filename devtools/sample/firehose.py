"""CloudTrail records as a trail's CloudWatch Logs log group hands them to a subscription filter
and Amazon Data Firehose writes them to S3 (default layout, no record processing):
``firehose/cloudtrail/YYYY/MM/DD/HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``.

Each CloudWatch Logs delivery is one gzip'd envelope (``messageType``, ``owner``, ``logGroup``,
``logStream``, ``subscriptionFilters``, ``logEvents``); Firehose writes the deliveries it buffered
back to back. The first object delivered at or after each of ``CONTROL_HOURS`` opens with the
``CONTROL_MESSAGE`` CloudWatch Logs sends to check the destination.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from itertools import groupby
from typing import Any

from devtools.sample.cloudtrail import Timed
from devtools.sample.ids import LAST_STAMP, WINDOW, Clock, Ids
from devtools.sample.output import GZIP_LEVEL, Count, Sink, dumps

PREFIX = "firehose/cloudtrail"
BUFFER = 900  # Firehose buffer interval, seconds: one object per 15 minutes of deliveries
CONTROL_HOURS = (0, 12)
CONTROL_TEXT = "CWL CONTROL MESSAGE: Checking health of destination Firehose."


def stream_name(account: str, region: str) -> str:
    """The Firehose stream fed by ``account``'s trail log group in ``region``."""
    return f"cwl-cloudtrail-{account}-{region}"


def _gzip(doc: dict[str, Any]) -> bytes:
    return gzip.compress(dumps(doc), compresslevel=GZIP_LEVEL, mtime=0)


def _control(clock: Clock, sec: int) -> dict[str, Any]:
    return {
        "messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
        "logStream": "", "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": (clock.epoch0 + sec) * 1000,
                       "message": CONTROL_TEXT}],
    }


def _data(ids: Ids, clock: Clock, account: str, region: str, timed: list[Timed]) -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE", "owner": account,
        "logGroup": f"aws-cloudtrail-logs-{account}", "logStream": f"{account}_CloudTrail_{region}",
        "subscriptionFilters": ["to-firehose"],
        "logEvents": [{"id": str(ids.rng.randrange(10**55, 10**56)),
                       "timestamp": (clock.epoch0 + sec) * 1000,
                       "message": dumps(event).decode()} for sec, event in timed],
    }


def write_cloudtrail(
    sink: Sink, ids: Ids, clock: Clock, account: str, region: str, timed: Iterable[Timed]
) -> Count:
    """Write time-ordered CloudTrail records: one envelope per 5-minute CloudTrail delivery, one
    object per ``BUFFER``."""
    count, checks = Count(), list(CONTROL_HOURS)
    stream = stream_name(account, region)
    for window, group in groupby(timed, key=lambda te: te[0] // BUFFER):
        delivered = min((window + 1) * BUFFER, LAST_STAMP)
        docs = [_data(ids, clock, account, region, list(batch))
                for _, batch in groupby(group, key=lambda te: te[0] // WINDOW)]
        opens = bool(checks) and delivered // 3600 >= checks[0]
        while checks and delivered // 3600 >= checks[0]:
            checks.pop(0)
        if opens:
            docs.insert(0, _control(clock, window * BUFFER))
        at = clock.at(delivered)
        key = (f"{PREFIX}/{at:%Y/%m/%d/%H}/{stream}-1-{at:%Y-%m-%d-%H-%M-%S}-{ids.uuid()}.gz")
        body = b"".join(_gzip(d) for d in docs)
        if sink.put(key, body, compress=False, hour=delivered // 3600):
            count.add(sum(len(d["logEvents"]) for d in docs if d["messageType"] == "DATA_MESSAGE"))
    return count
