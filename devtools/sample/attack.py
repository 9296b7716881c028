"""The injected attack: root-key CloudTrail calls, miner and SSH flows, and GuardDuty's finding."""

from __future__ import annotations

from typing import Any

from devtools.sample.ec2_shapes import Launch, run_request, run_response
from devtools.sample.envelope import TLS12, api_event, tls_details
from devtools.sample.flowlogs import Record, conversation, iface, record
from devtools.sample.ground_truth import ATTACK
from devtools.sample.guardduty import Export, finding, instance_resource
from devtools.sample.identities import root
from devtools.sample.ids import Clock, Ids, seconds_of_day
from devtools.sample.landscape import AZS, Eni, Site

POOL = {
    "ipAddressV4": ATTACK.pool_ip,
    "organization": {"asn": "16276", "asnOrg": "OVH SAS", "isp": "OVH SAS", "org": "OVH SAS"},
    "country": {"countryName": "France"},
    "city": {"cityName": "Gravelines"},
    "geoLocation": {"lat": 50.9871, "lon": 2.1255},
}
BOOT_SECONDS = 95  # RunInstances -> first mining flow
MINER_PORT_BASE = 41_000


def attack_enis() -> tuple[Eni, ...]:
    """The ten miners' primary network interfaces."""
    az_id = dict(AZS[ATTACK.region])[ATTACK.availability_zone]
    return tuple(
        Eni(
            eni,
            ip,
            ATTACK.subnet_id,
            ATTACK.availability_zone,
            az_id,
            "miner",
            iid,
            f"3.85.{140 + n}.{37 * n % 250 + 3}",
        )
        for n, (iid, eni, ip) in enumerate(
            zip(ATTACK.instance_ids, ATTACK.eni_ids, ATTACK.private_ips, strict=True)
        )
    )


def launch(clock: Clock) -> Launch:
    """The attacker's RunInstances."""
    return Launch(
        account=ATTACK.account_id,
        region=ATTACK.region,
        az=ATTACK.availability_zone,
        image_id=ATTACK.image_id,
        instance_type=ATTACK.instance_type,
        key_name=ATTACK.key_name,
        group_id=ATTACK.security_group_id,
        group_name=ATTACK.security_group_name,
        subnet_id=ATTACK.subnet_id,
        vpc_id=ATTACK.vpc_id,
        reservation_id=ATTACK.reservation_id,
        launch_ms=(clock.epoch0 + seconds_of_day(ATTACK.run_instances)) * 1000,
        instance_ids=ATTACK.instance_ids,
        eni_ids=ATTACK.eni_ids,
        private_ips=ATTACK.private_ips,
    )


def cloudtrail_events(ids: Ids, clock: Clock) -> list[tuple[int, dict[str, Any]]]:
    """The root key's calls, recon first, as ``(second-of-day, record)`` in us-east-1."""
    a, identity = ATTACK, root(ATTACK.account_id, ATTACK.access_key_id)

    def call(
        second: int,
        service: str,
        name: str,
        read_only: bool,
        request: Any = None,
        response: Any = None,
    ) -> tuple[int, dict[str, Any]]:
        return second, api_event(
            ids,
            when=clock.iso(second),
            identity=identity,
            source=f"{service}.amazonaws.com",
            name=name,
            region=a.region,
            account=a.account_id,
            ip=a.attacker_ip,
            agent=a.user_agent,
            request=request,
            response=response,
            read_only=read_only,
            tls=tls_details(f"{service}.{a.region}.amazonaws.com", TLS12),
        )

    start, run = seconds_of_day(a.start), seconds_of_day(a.run_instances)
    rule = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
    fingerprint = ":".join(ids.hex(2) for _ in range(16))
    return [
        call(seconds_of_day(a.recon), "sts", "GetCallerIdentity", True),
        call(start + 5, "sts", "GetCallerIdentity", True),
        call(start + 31, "ec2", "DescribeRegions", True, {"regionSet": {}, "allRegions": True}),
        call(start + 62, "ec2", "DescribeInstances", True, {"instancesSet": {}, "filterSet": {}}),
        call(
            start + 130,
            "ec2",
            "ImportKeyPair",
            False,
            {"keyName": a.key_name, "publicKeyMaterial": "<sensitiveDataRemoved>"},
            {
                "requestId": ids.uuid(),
                "keyName": a.key_name,
                "keyFingerprint": fingerprint,
                "keyPairId": a.key_pair_id,
            },
        ),
        call(
            start + 168,
            "ec2",
            "CreateSecurityGroup",
            False,
            {"groupName": a.security_group_name, "groupDescription": "maintenance access"},
            {
                "requestId": ids.uuid(),
                "_return": True,
                "groupId": a.security_group_id,
                "securityGroupArn": f"arn:aws:ec2:{a.region}:{a.account_id}:security-group/"
                f"{a.security_group_id}",
            },
        ),
        call(
            start + 200,
            "ec2",
            "AuthorizeSecurityGroupIngress",
            False,
            {
                "groupId": a.security_group_id,
                "ipPermissions": {
                    "items": [
                        {
                            **rule,
                            "groups": {},
                            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                            "ipv6Ranges": {},
                            "prefixListIds": {},
                        }
                    ]
                },
            },
            {
                "requestId": ids.uuid(),
                "_return": True,
                "securityGroupRuleSet": {
                    "items": [
                        {
                            "groupOwnerId": a.account_id,
                            "groupId": a.security_group_id,
                            "securityGroupRuleId": ids.resource("sgr"),
                            "isEgress": False,
                            **rule,
                            "cidrIpv4": "0.0.0.0/0",
                        }
                    ]
                },
            },
        ),
        call(
            run,
            "ec2",
            "RunInstances",
            False,
            run_request(launch(clock), ids.uuid()),
            run_response(ids, launch(clock)),
        ),
    ]


def flows(ids: Ids, clock: Clock, fields: tuple[str, ...]) -> list[tuple[int, Record]]:
    """Default-VPC flow records: attacker SSH to each miner, then per-minute pool traffic."""
    run = seconds_of_day(ATTACK.run_instances)
    out: list[tuple[int, Record]] = []
    nics = [
        iface(ATTACK.account_id, ATTACK.region, ATTACK.vpc_id, e, fields) for e in attack_enis()
    ]
    first = nics[0]
    second = run + 50
    start = clock.epoch0 + second
    out.append(
        (
            second,
            record(
                first,
                ATTACK.attacker_ip,
                first.eni.ip,
                50_122,
                22,
                6,
                1,
                60,
                start,
                start + 31,
                "REJECT",
                2,
                "ingress",
                "-",
                "-",
                "-",
            ),
        )
    )
    for n, nic in enumerate(nics):
        second = run + 70 + 6 * n
        start = clock.epoch0 + second
        out += [
            (second, r)
            for r in conversation(
                nic,
                ATTACK.attacker_ip,
                22,
                50_200 + n,
                6,
                start,
                start + 55,
                ids.between(40_000, 90_000),
                ids.between(8_000, 20_000),
                local_started=False,
                path="8",
            )
        ]
    for minute in range((run + BOOT_SECONDS) // 60 + 1, 1440):
        for n, nic in enumerate(nics):
            second = minute * 60 + n
            start = clock.epoch0 + minute * 60
            out += [
                (second, r)
                for r in conversation(
                    nic,
                    ATTACK.pool_ip,
                    MINER_PORT_BASE + n,
                    ATTACK.pool_port,
                    6,
                    start,
                    start + 59,
                    ids.between(2_000_000, 6_000_000),
                    ids.between(1_000_000, 3_000_000),
                    local_started=True,
                    path="8",
                )
            ]
    return sorted(out, key=lambda sr: sr[0])


def finding_exports(ids: Ids, clock: Clock, site: Site) -> list[Export]:
    """The BitcoinTool.B finding on the first miner: new at ~14:20, re-exported 6 hours later."""
    eni = attack_enis()[0]
    resource = instance_resource(
        eni,
        ATTACK.instance_type,
        ATTACK.image_id,
        clock.iso_ms(seconds_of_day(ATTACK.run_instances)),
        public_ip=eni.public_ip,
        vpc_id=ATTACK.vpc_id,
        region=ATTACK.region,
        groups=[{"groupId": ATTACK.security_group_id, "groupName": ATTACK.security_group_name}],
    )
    action = {
        "actionType": "NETWORK_CONNECTION",
        "networkConnectionAction": {
            "connectionDirection": "OUTBOUND",
            "remoteIpDetails": POOL,
            "remotePortDetails": {"port": ATTACK.pool_port, "portName": "Unknown"},
            "localPortDetails": {"port": MINER_PORT_BASE, "portName": "Unknown"},
            "localIpDetails": {"ipAddressV4": eni.ip},
            "protocol": "TCP",
            "blocked": False,
        },
    }
    created = seconds_of_day(ATTACK.finding_created)
    first = seconds_of_day(ATTACK.run_instances) + BOOT_SECONDS + 60
    fid = ids.hex(32)
    title = f"EC2 instance {eni.instance_id} is communicating with a Bitcoin-related IP address."
    description = (
        f"EC2 instance {eni.instance_id} is communicating with Bitcoin-related IP "
        f"address {ATTACK.pool_ip} on port {ATTACK.pool_port}."
    )
    exports = []
    for updated, count in ((created, 9), (created + 6 * 3600, 369)):
        exports.append(
            Export(
                updated + 250,
                finding(
                    ids,
                    clock,
                    site,
                    kind=ATTACK.finding_type,
                    severity=ATTACK.finding_severity,
                    title=title,
                    description=description,
                    resource=resource,
                    action=action,
                    role="ACTOR",
                    created=created,
                    updated=updated,
                    first=first,
                    last=updated - 40,
                    count=count,
                    finding_id=fid,
                ),
            )
        )
    return exports
