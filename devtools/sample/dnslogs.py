"""Route 53 Resolver query logs: routine lookups of a VPC's instances, the miners' pool lookups,
and their delivery files (``AWSLogs/<account>/vpcdnsquerylogs/<vpc-id>/YYYY/MM/DD/``, gzip JSON
lines, one file per VPC and 5 minutes).

The answers agree with the flow logs: AWS endpoints resolve into the service ranges the routine
flows reach, package mirrors and NTP to the same addresses, and the miners' pool domain to the
pool address they then connect to (``ATTACK.pool_ip``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import groupby
from typing import Any

from devtools.sample.attack import BOOT_SECONDS, attack_enis
from devtools.sample.ground_truth import ATTACK
from devtools.sample.ids import WINDOW, Clock, Ids, draw_times, seconds_of_day
from devtools.sample.landscape import Eni, Site, Vpc
from devtools.sample.output import Count, Sink, dumps
from devtools.sample.traffic import FLOW_DAY, MIRRORS, NTP_SERVERS, SERVICE_NETS

VERSION = "1.100000"
POOL_DOMAIN = "pool.supportxmr.com"  # in conf/intel/mining_pools.yml; resolves to ATTACK.pool_ip
QUERIES_PER_FLOW = 0.25  # routine lookups per routine flow record (the resolver caches the rest)
Answer = tuple[str, str]  # (Type, Rdata)
Query = dict[str, Any]


def _a(ip: str) -> Answer:
    return ("A", ip)


def _cname(name: str) -> Answer:
    return ("CNAME", name + ".")


class Lookups:
    """Draws routine lookups of one VPC's instances: AWS endpoints, mirrors, NTP, internal
    names, and the odd name that does not exist."""

    def __init__(self, ids: Ids, site: Site, vpc: Vpc) -> None:
        self.ids, self.site, self.vpc = ids, site, vpc
        self.hosts = [e for e in vpc.enis if e.instance_id != "-"]
        self.databases = [e for e in vpc.enis if e.role == "rds"]
        region = site.region
        nets = SERVICE_NETS[region]
        self.names: list[tuple[float, str, Callable[[], list[Answer]]]] = [
            (4, f"s3.{region}.amazonaws.com", lambda: [_a(self._in(nets["S3"]))]),
            (2, f"dynamodb.{region}.amazonaws.com", lambda: [_a(self._in(nets["DYNAMODB"]))]),
            (1, f"ec2.{region}.amazonaws.com", lambda: [_a(self._in(nets["EC2"]))]),
            (1, f"sts.{region}.amazonaws.com", lambda: [_a(self._in(nets["AMAZON"]))]),
            (1, "archive.ubuntu.com", lambda: [_a(MIRRORS[0][0]), _a(MIRRORS[1][0])]),
            (1, "security.ubuntu.com", lambda: [_a(MIRRORS[2][0])]),
            (1, "files.pythonhosted.org", lambda: [
                _cname("dualstack.python.map.fastly.net"), _a(MIRRORS[4][0])]),
            (1, "ntp.ubuntu.com", lambda: [_a(ip) for ip in NTP_SERVERS]),
        ]
        if self.databases:
            self.names.append((2, f"{site.env}-orders.cluster-c9akciq32.{region}.rds.amazonaws.com",
                               lambda: [_cname(f"{site.env}-orders-instance-1.c9akciq32.{region}"
                                               ".rds.amazonaws.com"),
                                        _a(self.ids.pick(self.databases).ip)]))

    def _in(self, prefixes: tuple[str, ...]) -> str:
        return self.ids.ip(self.ids.pick(prefixes))

    def queries(self, clock: Clock, n: int) -> list[tuple[int, Query]]:
        """About ``n`` lookups in time order; about one in forty finds no such name."""
        if not self.hosts:
            return []
        out = []
        weights = [w for w, _, _ in self.names]
        for second in sorted(draw_times(self.ids.rng, FLOW_DAY, n)):
            host = self.ids.pick(self.hosts)
            if self.ids.rng.random() < 0.025:
                name, answers, rcode = f"wpad.{self.site.region}.compute.internal", [], "NXDOMAIN"
            else:
                _, name, answer = self.ids.rng.choices(self.names, weights=weights)[0]
                answers, rcode = answer(), "NOERROR"
            out.append((second, query(clock, second, self.site, self.vpc.vpc_id, host, name,
                                      "A", rcode, answers, self.ids.between(32768, 60999))))
        return out


def query(
    clock: Clock, second: int, site: Site, vpc_id: str, host: Eni, name: str, qtype: str,
    rcode: str, answers: Iterable[Answer], srcport: int,
) -> Query:
    """One query-log record, fields in the documented order."""
    return {
        "version": VERSION,
        "account_id": site.account,
        "region": site.region,
        "vpc_id": vpc_id,
        "query_timestamp": clock.iso(second),
        "query_name": name + ".",
        "query_type": qtype,
        "query_class": "IN",
        "rcode": rcode,
        "answers": [{"Rdata": data, "Type": kind, "Class": "IN"} for kind, data in answers],
        "srcaddr": host.ip,
        "srcport": str(srcport),
        "transport": "UDP",
        "srcids": {"instance": host.instance_id},
    }


def pool_lookups(ids: Ids, clock: Clock, site: Site) -> list[tuple[int, Query]]:
    """Each miner, booted, asks for the pool (A, then an empty AAAA) before its first flow."""
    boot = seconds_of_day(ATTACK.run_instances) + BOOT_SECONDS
    out = []
    for n, eni in enumerate(attack_enis()):
        second, port = boot + n, ids.between(32768, 60999)
        out.append((second, query(clock, second, site, ATTACK.vpc_id, eni, POOL_DOMAIN, "A",
                                  "NOERROR", [_a(ATTACK.pool_ip)], port)))
        out.append((second, query(clock, second, site, ATTACK.vpc_id, eni, POOL_DOMAIN, "AAAA",
                                  "NOERROR", [], port + 1)))
    return out


def write_query_log(
    sink: Sink, ids: Ids, clock: Clock, account: str, vpc_id: str,
    timed: Iterable[tuple[int, Query]],
) -> Count:
    """Write ``(second-of-day, record)`` pairs (in time order) as one file per 5 minutes."""
    count = Count()
    folder = f"AWSLogs/{account}/vpcdnsquerylogs/{vpc_id}/{clock.path}/"
    for window, group in groupby(timed, key=lambda tr: tr[0] // WINDOW):
        lines = [dumps(rec) for _, rec in group]
        stamp = clock.stamp(clock.delivery(window))
        name = f"{account}_vpcdnsquerylogs_{vpc_id}_{stamp}_{ids.hex(8)}.log.gz"
        if sink.put(folder + name, b"\n".join(lines) + b"\n"):
            count.add(len(lines))
    return count
