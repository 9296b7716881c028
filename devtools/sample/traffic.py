"""Routine VPC traffic: service calls, east-west flows, DNS, NTP, mirrors, web clients, scanners."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from heapq import merge

from devtools.sample.flowlogs import Iface, Record, conversation, iface, no_data, record
from devtools.sample.identities import OFFICE_IP
from devtools.sample.ids import Clock, Ids, draw_times, hourly
from devtools.sample.landscape import Site, Vpc

SERVICE_NETS = {
    "us-east-1": {
        "S3": ("52.216.8.", "52.217.44.", "3.5.29."),
        "DYNAMODB": ("3.218.182.", "52.94.0."),
        "EC2": ("54.239.28.", "52.46.129."),
        "AMAZON": ("52.46.152.", "52.94.232."),
    },
    "eu-west-1": {
        "S3": ("52.218.57.", "3.5.70.", "52.92.36."),
        "DYNAMODB": ("52.119.242.", "52.94.26."),
        "EC2": ("52.95.120.", "176.32.104."),
        "AMAZON": ("52.119.196.", "52.94.220."),
    },
    "us-west-2": {
        "S3": ("52.218.216.", "3.5.80.", "52.92.210."),
        "DYNAMODB": ("52.94.10.", "52.119.160."),
        "EC2": ("54.240.251.", "52.94.209."),
        "AMAZON": ("52.94.212.", "35.71.64."),
    },
}
SERVICES = ("S3", "S3", "DYNAMODB", "EC2", "AMAZON", "AMAZON")
MIRRORS = (
    ("91.189.91.81", 80),
    ("91.189.91.82", 80),
    ("185.125.190.36", 80),
    ("151.101.0.223", 443),
    ("151.101.64.223", 443),
)
NTP_SERVERS = ("185.125.190.56", "185.125.190.57", "185.125.190.58")
UPSTREAM_DNS = ("1.1.1.1", "8.8.8.8")
SCANNER_NETS = (
    "162.142.125.",
    "198.235.24.",
    "89.248.165.",
    "45.148.10.",
    "185.242.226.",
    "193.163.125.",
    "71.6.199.",
    "80.82.77.",
)
SCAN_PORTS = (22, 22, 22, 3389, 3389, 23, 445, 5900, 6379, 9200, 2375, 1433, 8080)
CLIENT_NETS = (
    "24.",
    "66.",
    "73.",
    "76.",
    "81.",
    "86.",
    "92.",
    "98.",
    "109.",
    "174.",
    "188.",
    "217.",
)
FLOW_DAY = hourly([0.6] * 6 + [1.0] * 16 + [0.8] * 2)
Pattern = tuple[float, int, Callable[[int], tuple[Record, ...]]]  # (weight, records, make(second))


class Traffic:
    """Draws routine flow records for the ENIs of one VPC's flow log."""

    def __init__(
        self, ids: Ids, clock: Clock, site: Site, vpc: Vpc, fields: tuple[str, ...]
    ) -> None:
        self.ids, self.rng, self.clock, self.site, self.vpc = ids, ids.rng, clock, site, vpc
        self.nics: dict[str, list[Iface]] = {}
        for eni in vpc.enis:
            self.nics.setdefault(eni.role, []).append(
                iface(site.account, site.region, vpc.vpc_id, eni, fields)
            )
        self.hosts = [
            n
            for role in ("web", "app", "batch", "dns", "bastion", "lambda")
            for n in self.nics.get(role, [])
        ]
        self.public = self.nics.get("alb", []) + self.nics.get("bastion", [])

    def _span(self, second: int) -> tuple[int, int]:
        start = self.clock.epoch0 + second
        return start, start + self.ids.between(2, self.vpc.interval)

    def _eph(self) -> int:
        return self.ids.between(32768, 60999)

    def _east_west(
        self, clients: str, server: str, port: int, proto: int, sent: int, got: int, second: int
    ) -> tuple[Record, ...]:
        client, srv = self.ids.pick(self.nics[clients]), self.ids.pick(self.nics[server])
        start, end, eph = *self._span(second), self._eph()
        return conversation(
            client,
            srv.eni.ip,
            eph,
            port,
            proto,
            start,
            end,
            sent,
            got,
            local_started=True,
            path="1",
        ) + conversation(
            srv,
            client.eni.ip,
            port,
            eph,
            proto,
            start,
            end,
            got,
            sent,
            local_started=False,
            path="1",
        )

    def _outbound(
        self,
        nic: Iface,
        remote: str,
        port: int,
        proto: int,
        sent: int,
        got: int,
        second: int,
        svc: str = "-",
    ) -> tuple[Record, ...]:
        path = "7" if svc == "S3" else ("8" if nic.eni.public_ip else "1")
        start, end = self._span(second)
        return conversation(
            nic,
            remote,
            self._eph(),
            port,
            proto,
            start,
            end,
            sent,
            got,
            local_started=True,
            path=path,
            svc=svc,
        )

    def _service(self, second: int) -> tuple[Record, ...]:
        svc = self.ids.pick(SERVICES)
        remote = self.ids.ip(self.ids.pick(SERVICE_NETS[self.site.region][svc]))
        return self._outbound(
            self.ids.pick(self.hosts),
            remote,
            443,
            6,
            self.ids.between(800, 40_000),
            self.ids.between(2_000, 400_000),
            second,
            svc,
        )

    def _mirror(self, second: int) -> tuple[Record, ...]:
        ip, port = self.ids.pick(MIRRORS)
        return self._outbound(
            self.ids.pick(self.hosts),
            ip,
            port,
            6,
            self.ids.between(400, 2_000),
            self.ids.between(20_000, 5_000_000),
            second,
        )

    def _ntp(self, second: int) -> tuple[Record, ...]:
        return self._outbound(
            self.ids.pick(self.hosts), self.ids.pick(NTP_SERVERS), 123, 17, 76, 76, second
        )

    def _dns_upstream(self, second: int) -> tuple[Record, ...]:
        return self._outbound(
            self.ids.pick(self.nics["dns"]),
            self.ids.pick(UPSTREAM_DNS),
            53,
            17,
            self.ids.between(60, 120),
            self.ids.between(90, 400),
            second,
        )

    def _web_client(self, second: int) -> tuple[Record, ...]:
        alb = self.ids.pick(self.nics["alb"])
        start, end = self._span(second)
        got, sent = self.ids.between(600, 4_000), self.ids.between(2_000, 200_000)
        client = self.ids.ip(self.ids.pick(CLIENT_NETS))
        return conversation(
            alb, client, 443, self._eph(), 6, start, end, sent, got, local_started=False, path="8"
        ) + self._east_west("alb", "web", 8080, 6, got, sent, second)

    def _scan(self, second: int) -> tuple[Record, ...]:
        nic = self.ids.pick(self.public)
        start, end = self._span(second)
        tries = self.ids.between(1, 2)
        return (
            record(
                nic,
                self.ids.ip(self.ids.pick(SCANNER_NETS)),
                nic.eni.ip,
                self.ids.between(1024, 65535),
                self.ids.pick(SCAN_PORTS),
                6,
                tries,
                44 * tries,
                start,
                end,
                "REJECT",
                2,
                "ingress",
                "-",
                "-",
                "-",
            ),
        )

    def _admin_ssh(self, second: int) -> tuple[Record, ...]:
        nic = self.ids.pick(self.nics["bastion"])
        start, end = self._span(second)
        return conversation(
            nic,
            OFFICE_IP,
            22,
            self._eph(),
            6,
            start,
            end,
            self.ids.between(5_000, 200_000),
            self.ids.between(3_000, 30_000),
            local_started=False,
            path="8",
        )

    def patterns(self) -> list[Pattern]:
        """The traffic kinds this VPC's ENIs can produce, with weights and records per draw."""
        has = self.nics.__contains__
        client = "web" if has("web") else "batch"
        between = self.ids.between
        found: list[Pattern] = [
            (30, 2, self._service),
            (3, 2, self._mirror),
            (3, 2, self._ntp),
            (
                18,
                4,
                lambda s: self._east_west(
                    client, "app", 8080, 6, between(500, 8_000), between(1_000, 60_000), s
                ),
            ),
            (
                12,
                4,
                lambda s: self._east_west(
                    "app", "rds", 5432, 6, between(300, 4_000), between(500, 120_000), s
                ),
            ),
            (
                12,
                4,
                lambda s: self._east_west(
                    client, "dns", 53, 17, between(60, 120), between(90, 400), s
                ),
            ),
            (4, 2, self._dns_upstream),
            (1, 4, lambda s: self._east_west("app", client, 0, 1, 84, 84, s)),
        ]
        if has("alb") and has("web"):
            found.append((10, 6, self._web_client))
        if self.public:
            found.append((6, 1, self._scan))
        if has("bastion"):
            found.append((1, 2, self._admin_ssh))
        return found

    def records(self, n: int) -> Iterator[tuple[int, Record]]:
        """About ``n`` records in time order, with a few NODATA and SKIPDATA records."""
        patterns = self.patterns()
        per_draw = sum(w * k for w, k, _ in patterns) / sum(w for w, _, _ in patterns)
        draws = max(1, round(n / per_draw))
        seconds = sorted(draw_times(self.rng, FLOW_DAY, draws))
        makers = self.rng.choices(
            [m for _, _, m in patterns], weights=[w for w, _, _ in patterns], k=draws
        )
        routine = ((s, rec) for s, make in zip(seconds, makers, strict=True) for rec in make(s))
        return merge(routine, self._gaps(), key=lambda sr: sr[0])

    def _gaps(self) -> list[tuple[int, Record]]:
        statuses = ["NODATA", "NODATA"] + (["SKIPDATA"] if self.site.region == "us-east-1" else [])
        gaps = []
        for status in statuses:
            second = self.ids.between(0, 86_000)
            start = self.clock.epoch0 + second
            gaps.append(
                (
                    second,
                    no_data(self.ids.pick(self.hosts), start, start + self.vpc.interval, status),
                )
            )
        return sorted(gaps, key=lambda sr: sr[0])
