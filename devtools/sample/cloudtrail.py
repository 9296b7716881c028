"""Routine CloudTrail events per account and region, and their delivery files and digests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from heapq import merge
from itertools import groupby
from typing import Any

from devtools.sample.actors import Actor, Roster
from devtools.sample.envelope import api_event, tls_details
from devtools.sample.ids import WINDOW, Clock, Ids
from devtools.sample.landscape import (
    HOME_REGION,
    ORG_ID,
    ORG_TRAIL_ACCOUNT,
    REGIONS,
    Account,
    Site,
)
from devtools.sample.output import Count, Sink, dumps

Timed = tuple[int, dict[str, Any]]  # (second-of-day, CloudTrail record)
TRAIL = "management-events"


@dataclass(frozen=True)
class LogFile:
    """A delivered CloudTrail log file, as its digest lists it."""

    key: str
    delivered: int
    sha256: str
    oldest: str
    newest: str


def routine_slots(ids: Ids, roster: Roster, budget: int) -> dict[str, list[tuple[int, int, int]]]:
    """``(second, actor index, call index)`` per region, sorted, about ``budget`` in all."""
    rng = ids.rng
    slots: dict[str, list[tuple[int, int, int]]] = {r: [] for r in REGIONS}
    for a, actor in enumerate(roster.actors):
        n = round(budget * actor.share)
        if n <= 0:
            continue
        times = actor.times(rng, n)
        calls = rng.choices(range(len(actor.calls)), weights=actor.call_weights, k=n)
        regions = rng.choices(actor.regions, weights=actor.region_weights, k=n)
        for t, c, r in zip(times, calls, regions, strict=True):
            slots[HOME_REGION if actor.calls[c].home_only else r].append((t, a, c))
    for region_slots in slots.values():
        region_slots.sort()
    return slots


def routine_event(
    ids: Ids,
    clock: Clock,
    site: Site,
    actor: Actor,
    call_index: int,
    second: int,
) -> dict[str, Any]:
    """One routine record: ``actor`` making its ``call_index``-th call at ``site``."""
    call, region = actor.calls[call_index], site.region
    identity, ip = ids.pick(actor.faces)
    agent = call.agent or ids.pick(actor.agents)
    if "{cmd}" in agent:
        agent = agent.replace("{cmd}", call.cli)
    when = clock.iso(second)
    request = call.request(ids, site, when) if call.request else None
    error = None
    if actor.error_rate and ids.rng.random() < actor.error_rate:
        error = (
            call.error_code(),
            _denied(call.service, call.action, identity["arn"], region, site.account),
        )
    return api_event(
        ids,
        when=when,
        identity=identity,
        source=call.source,
        name=call.name,
        region=region,
        account=site.account,
        ip=ip,
        agent=agent,
        request=request,
        response=call.response(ids, site, when) if call.response and error is None else None,
        read_only=call.read_only,
        version=actor.version,
        error=error,
        resources=call.resources(ids, site, request) if call.resources else None,
        additional=call.additional(ids, site, when) if call.additional else None,
        shared_event=call.shared_event,
        tls=tls_details(call.host(region)) if actor.tls else None,
        console=actor.console,
    )


def _denied(service: str, action: str, arn: str, region: str, account: str) -> str:
    why = f"because no identity-based policy allows the {action} action"
    if service == "ec2":
        return (
            f"You are not authorized to perform this operation. User: {arn} is not authorized "
            f"to perform: {action} {why}"
        )
    where = "" if service in ("iam", "s3") else region
    return (
        f"User: {arn} is not authorized to perform: {action} on resource: "
        f"arn:aws:{service}:{where}:{account}:* {why}"
    )


def region_stream(
    ids: Ids,
    clock: Clock,
    account: Account,
    region: str,
    roster: Roster,
    slots: list[tuple[int, int, int]],
    fixed: list[Timed],
) -> Iterator[Timed]:
    """Routine records built lazily in time order, merged with the prebuilt ``fixed`` ones."""
    actors, site = roster.actors, account.site(region)
    routine = ((t, routine_event(ids, clock, site, actors[a], c, t)) for t, a, c in slots)
    return merge(routine, sorted(fixed, key=lambda te: te[0]), key=lambda te: te[0])


def trail_root(account: str) -> str:
    """The key prefix above ``CloudTrail/`` of ``account``'s trail: its own, or the
    organization trail's ``AWSLogs/<org-id>/<account>`` for the account that has one."""
    return f"AWSLogs/{ORG_ID}/{account}" if account == ORG_TRAIL_ACCOUNT else f"AWSLogs/{account}"


def write_trail(
    sink: Sink, ids: Ids, clock: Clock, account: str, region: str, timed: Iterable[Timed]
) -> tuple[Count, list[LogFile]]:
    """Write time-ordered records as one ``{"Records": [...]}`` file per 5 minutes."""
    count, files = Count(), []
    folder = f"{trail_root(account)}/CloudTrail/{region}/{clock.path}/"
    for window, group in groupby(timed, key=lambda te: te[0] // WINDOW):
        records = [event for _, event in group]
        delivered = clock.delivery(window)
        name = f"{account}_CloudTrail_{region}_{clock.stamp(delivered)}_{ids.alnum(16)}.json.gz"
        key = folder + name
        body = dumps({"Records": records})
        if sink.put(key, body):
            count.add(len(records))
        files.append(  # digests list every delivered file, written or not
            LogFile(
                key,
                delivered,
                hashlib.sha256(body).hexdigest(),
                records[0]["eventTime"],
                records[-1]["eventTime"],
            )
        )
    return count, files


def _digest_key(account: str, region: str, moment: datetime) -> str:
    return (
        f"{trail_root(account)}/CloudTrail-Digest/{region}/{moment:%Y/%m/%d}/{account}_CloudTrail-Digest_"
        f"{region}_{TRAIL}_{region}_{moment:%Y%m%dT%H%M%SZ}.json.gz"
    )


def write_digests(
    sink: Sink, ids: Ids, clock: Clock, account: str, region: str, files: list[LogFile]
) -> Count:
    """Hourly digest files listing the log files delivered in each hour, chained by hash."""
    count = Count()
    bucket = f"tw-cloudtrail-{account}"
    offset = ids.rng.randint(300, 3300)
    fingerprint = ids.hex(32)
    previous = (_digest_key(account, region, clock.at(offset - 3600)), ids.hex(64), ids.hex(512))
    for hour in range(24):
        end = hour * 3600 + offset
        logs = [f for f in files if end - 3600 < f.delivered <= end]
        key = _digest_key(account, region, clock.at(end))
        body = dumps(
            {
                "awsAccountId": account,
                "digestStartTime": clock.at(end - 3600).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "digestEndTime": clock.at(end).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "digestS3Bucket": bucket,
                "digestS3Object": key,
                "digestPublicKeyFingerprint": fingerprint,
                "digestSignatureAlgorithm": "SHA256withRSA",
                "newestEventTime": max((f.newest for f in logs), default=None),
                "oldestEventTime": min((f.oldest for f in logs), default=None),
                "previousDigestS3Bucket": bucket,
                "previousDigestS3Object": previous[0],
                "previousDigestHashValue": previous[1],
                "previousDigestHashAlgorithm": "SHA-256",
                "previousDigestSignature": previous[2],
                "logFiles": [
                    {
                        "s3Bucket": bucket,
                        "s3Object": f.key,
                        "hashValue": f.sha256,
                        "hashAlgorithm": "SHA-256",
                        "newestEventTime": f.newest,
                        "oldestEventTime": f.oldest,
                    }
                    for f in logs
                ],
            }
        )
        if sink.put(key, body):
            count.add(len(logs))
        previous = (key, hashlib.sha256(body).hexdigest(), ids.hex(512))
    return count
