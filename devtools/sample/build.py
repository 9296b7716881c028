"""Generation of the whole landing zone, one account at a time (optionally in parallel)."""

from __future__ import annotations

import logging
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import reduce
from pathlib import Path
from typing import Any

from devtools.sample import attack
from devtools.sample.actors import build_roster
from devtools.sample.cloudtrail import region_stream, routine_slots, write_digests, write_trail
from devtools.sample.dnslogs import QUERIES_PER_FLOW, Lookups, pool_lookups, write_query_log
from devtools.sample.firehose import write_cloudtrail
from devtools.sample.flowlogs import write_flow_log
from devtools.sample.ground_truth import ATTACK
from devtools.sample.guardduty import routine_exports, write_exports
from devtools.sample.ids import Clock, Ids
from devtools.sample.landscape import (
    FIREHOSE_SITE,
    HOME_REGION,
    REGIONS,
    SECURITY_LAKE_SITE,
    account_count,
    account_ref,
    build_account,
)
from devtools.sample.output import Sink, Summary
from devtools.sample.remediation import remediation_events
from devtools.sample.scheduled import key_rotation, scheduled_events
from devtools.sample.security_lake import write_api_activity, write_network_activity
from devtools.sample.traffic import Traffic

log = logging.getLogger(__name__)

DEFAULT_DAY = date(2026, 11, 20)
BASE_EVENTS = 5_000  # routine CloudTrail events at scale 0
EVENTS_PER_SCALE = 1_000_000
BASE_FLOWS = 6_000  # routine flow records at scale 0 (the attack adds ~11,800)
FLOWS_PER_SCALE = 5_000_000


def check_hours(hours: tuple[int, int]) -> tuple[int, int]:
    """``hours`` when it is a (first, last) range of UTC hours, else a ValueError."""
    if not 0 <= hours[0] <= hours[1] <= 23:
        raise ValueError(f"hours must run from 0 to 23, first <= last; got {hours[0]}-{hours[1]}.")
    return hours


@dataclass(frozen=True)
class Plan:
    """What to generate: the day, the seed, routine volumes, the number of accounts, the
    delivery hours written (None: all) and whether ``SECURITY_LAKE_SITE`` is written as Security
    Lake objects and ``FIREHOSE_SITE`` as Firehose objects (else natively, like the rest)."""

    day: date
    seed: int
    events: int
    flows: int
    accounts: int
    hours: tuple[int, int] | None = None
    security_lake: bool = True
    firehose: bool = True

    @classmethod
    def of(
        cls, scale: float, day: date, seed: int, hours: tuple[int, int] | None = None,
        security_lake: bool = True, firehose: bool = True,
    ) -> Plan:
        """The plan for ``scale`` (0: demo sample; 1: ~1M events and ~5M flow records)."""
        if scale < 0:
            raise ValueError(f"scale must be >= 0, got {scale}")
        if hours:
            check_hours(hours)
        events = max(BASE_EVENTS, round(EVENTS_PER_SCALE * scale))
        return cls(
            day,
            seed,
            events,
            max(BASE_FLOWS, round(FLOWS_PER_SCALE * scale)),
            account_count(events),
            hours,
            security_lake,
            firehose,
        )

    def share(self, index: int) -> float:
        """The ``index``-th account's share of the routine volume."""
        weights = [account_ref(i)[2] for i in range(self.accounts)]
        return weights[index] / sum(weights)


def generate(
    out_dir: Path,
    *,
    scale: float = 0.0,
    day: date = DEFAULT_DAY,
    seed: int = 7,
    workers: int = 1,
    hours: tuple[int, int] | None = None,
    security_lake: bool = True,
    firehose: bool = True,
) -> Summary:
    """Write one day of CloudTrail, flow logs, Resolver query logs and GuardDuty under ``out_dir``
    (deterministic), one account's region as Security Lake objects instead
    (``SECURITY_LAKE_SITE``; natively with ``security_lake=False``) and another's CloudTrail as
    Firehose objects (``FIREHOSE_SITE``; natively with ``firehose=False``); with
    ``hours=(first, last)`` only the files delivered in those UTC hours."""
    plan = Plan.of(scale, day, seed, hours, security_lake, firehose)
    log.info(
        "generating %s: %d accounts, ~%d events, ~%d flow records",
        day,
        plan.accounts,
        plan.events,
        plan.flows,
    )
    jobs = [(out_dir, plan, i) for i in range(plan.accounts)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_account_job, jobs))
    else:
        parts = [_account_job(job) for job in jobs]
    return reduce(Summary.merge, parts, Summary())


def _account_job(job: tuple[Path, Plan, int]) -> Summary:
    return generate_account(*job)


def generate_account(out_dir: Path, plan: Plan, index: int) -> Summary:
    """Everything the ``index``-th account delivers in the day."""
    account, clock = build_account(plan.seed, index), Clock(plan.day)
    sink = Sink(out_dir, plan.hours)
    acct, share = account.account_id, plan.share(index)
    summary = Summary()

    ids = Ids(random.Random(f"{plan.seed}:{plan.day}:cloudtrail:{acct}"))
    roster = build_roster(plan.seed, clock, account)
    fixed: dict[str, list[tuple[int, dict[str, Any]]]] = {r: [] for r in REGIONS}
    placed = scheduled_events(ids, clock, account, roster) + key_rotation(plan.seed, clock, account)
    for second, region, event in placed:
        fixed[region].append((second, event))
    if acct == ATTACK.account_id:
        fixed[ATTACK.region] += attack.cloudtrail_events(ids, clock)
    slots = routine_slots(ids, roster, round(plan.events * share))
    for region in REGIONS:
        stream = region_stream(ids, clock, account, region, roster, slots[region], fixed[region])
        if plan.security_lake and (acct, region) == SECURITY_LAKE_SITE:
            summary.security_lake_cloudtrail += write_api_activity(
                sink, ids, clock, acct, region, stream
            )
            continue
        if plan.firehose and (acct, region) == FIREHOSE_SITE:
            cwl_ids = Ids(random.Random(f"{plan.seed}:{plan.day}:firehose:{acct}"))
            summary.firehose_cloudtrail += write_cloudtrail(
                sink, cwl_ids, clock, acct, region, stream
            )
            continue
        count, files = write_trail(sink, ids, clock, acct, region, stream)
        summary.cloudtrail += count
        if region == HOME_REGION:
            summary.cloudtrail_digest += write_digests(sink, ids, clock, acct, region, files)

    ids = Ids(random.Random(f"{plan.seed}:{plan.day}:vpcflow:{acct}"))
    for site in account.sites:
        for vpc in site.vpcs:
            timed: Any
            if vpc.vpc_id == ATTACK.vpc_id:
                timed = attack.flows(ids, clock, account.flow_fields)
            else:
                traffic = Traffic(ids, clock, site, vpc, account.flow_fields)
                timed = traffic.records(round(plan.flows * share * site.weight))
            if plan.security_lake and (acct, site.region) == SECURITY_LAKE_SITE:
                summary.security_lake_vpcflow += write_network_activity(
                    sink, ids, clock, acct, site.region, timed
                )
                continue
            summary.vpcflow += write_flow_log(
                sink,
                ids,
                clock,
                account=acct,
                region=site.region,
                flow_log_id=vpc.flow_log_id,
                fields=account.flow_fields,
                timed=timed,
            )

    ids = Ids(random.Random(f"{plan.seed}:{plan.day}:dns:{acct}"))
    for site in account.sites:
        for vpc in site.vpcs:
            if vpc.vpc_id == ATTACK.vpc_id:
                queries = pool_lookups(ids, clock, site)
            else:
                n = round(plan.flows * share * site.weight * QUERIES_PER_FLOW)
                queries = Lookups(ids, site, vpc).queries(clock, n)
            summary.dns += write_query_log(sink, ids, clock, acct, vpc.vpc_id, queries)

    ids = Ids(random.Random(f"{plan.seed}:{plan.day}:guardduty:{acct}"))
    exports = routine_exports(ids, clock, account)
    if acct == ATTACK.account_id:
        site = account.site(ATTACK.region)
        exports += [(site, e) for e in attack.finding_exports(ids, clock, site)]
    summary.guardduty += write_exports(sink, ids, clock, exports)
    for line in summary.lines():
        log.info("%s %s", acct, line)
    return summary


def write_remediation(out_dir: Path, *, day: date = DEFAULT_DAY, seed: int = 7) -> Summary:
    """Add the responder's CloudTrail files (14:39-14:45 UTC) beside ``generate``'s."""
    ids, clock = Ids(random.Random(f"{seed}:{day}:remediation")), Clock(day)
    count, _ = write_trail(
        Sink(out_dir), ids, clock, ATTACK.account_id, ATTACK.region, remediation_events(ids, clock)
    )
    log.info("remediation: %d files, %d records", count.files, count.records)
    return Summary(cloudtrail=count)
