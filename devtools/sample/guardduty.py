"""GuardDuty findings in the exported format, and the routine day's low-severity ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.sample.ids import Clock, Ids
from devtools.sample.landscape import Account, Eni, Site
from devtools.sample.output import Count, Sink, dumps

SCANNER = {
    "ipAddressV4": "162.142.125.221",
    "organization": {"asn": "398324", "asnOrg": "CENSYS-ARIN-01", "isp": "Censys", "org": "Censys"},
    "country": {"countryName": "United States"},
    "city": {"cityName": "Ann Arbor"},
    "geoLocation": {"lat": 42.2776, "lon": -83.7409},
}
BRUTE_FORCER = {
    "ipAddressV4": "80.82.77.139",
    "organization": {
        "asn": "202425",
        "asnOrg": "IP Volume inc",
        "isp": "IP Volume inc",
        "org": "IP Volume inc",
    },
    "country": {"countryName": "Netherlands"},
    "city": {"cityName": "Amsterdam"},
    "geoLocation": {"lat": 52.3759, "lon": 4.8975},
}


@dataclass(frozen=True)
class Export:
    """One finding as exported at ``second`` (findings are re-exported when updated)."""

    second: int
    finding: dict[str, Any]


def instance_resource(
    eni: Eni,
    instance_type: str,
    image_id: str,
    launch: str,
    *,
    public_ip: str | None,
    groups: list[dict[str, str]],
    vpc_id: str,
    region: str,
) -> dict[str, Any]:
    """``resource`` block of an EC2 finding."""
    dns = (
        "ip-"
        + eni.ip.replace(".", "-")
        + (".ec2.internal" if region == "us-east-1" else f".{region}.compute.internal")
    )
    nic = {
        "ipv6Addresses": [],
        "networkInterfaceId": eni.eni_id,
        "privateDnsName": dns,
        "privateIpAddress": eni.ip,
        "privateIpAddresses": [{"privateDnsName": dns, "privateIpAddress": eni.ip}],
        "publicDnsName": "",
        "publicIp": public_ip,
        "securityGroups": groups,
        "subnetId": eni.subnet_id,
        "vpcId": vpc_id,
    }
    return {
        "resourceType": "Instance",
        "instanceDetails": {
            "availabilityZone": eni.az,
            "imageId": image_id,
            "instanceId": eni.instance_id,
            "instanceState": "running",
            "instanceType": instance_type,
            "launchTime": launch,
            "networkInterfaces": [nic],
            "platform": None,
            "productCodes": [],
            "tags": [],
            "iamInstanceProfile": None,
            "outpostArn": None,
        },
    }


def finding(
    ids: Ids,
    clock: Clock,
    site: Site,
    *,
    kind: str,
    severity: int,
    title: str,
    description: str,
    resource: dict[str, Any],
    action: dict[str, Any],
    role: str,
    created: int,
    updated: int,
    first: int,
    last: int,
    count: int,
    finding_id: str | None = None,
) -> dict[str, Any]:
    """A finding in GuardDuty's export format (schemaVersion 2.0)."""
    fid = finding_id or ids.hex(32)
    detector = f"arn:aws:guardduty:{site.region}:{site.account}:detector/{site.detector_id}"
    return {
        "schemaVersion": "2.0",
        "accountId": site.account,
        "region": site.region,
        "partition": "aws",
        "id": fid,
        "arn": f"{detector}/finding/{fid}",
        "type": kind,
        "resource": resource,
        "service": {
            "serviceName": "guardduty",
            "detectorId": site.detector_id,
            "action": action,
            "resourceRole": role,
            "additionalInfo": {"value": "{}", "type": "default"},
            "eventFirstSeen": clock.iso_ms(first),
            "eventLastSeen": clock.iso_ms(last),
            "archived": False,
            "count": count,
        },
        "severity": severity,
        "createdAt": clock.iso_ms(created, 412),
        "updatedAt": clock.iso_ms(updated, 412),
        "title": title,
        "description": description,
    }


def routine_exports(ids: Ids, clock: Clock, account: Account) -> list[tuple[Site, Export]]:
    """Benign low-severity findings: a port probe (prod) and SSH brute force (dev), both sev 2."""
    site = account.site("us-east-1")
    bastion = next((e for e in site.instances if e.role == "bastion"), None)
    if account.env not in ("prod", "dev") or bastion is None:
        return []
    created = ids.rng.randint(3 * 3600, 5 * 3600)
    resource = instance_resource(
        bastion,
        "t3.small",
        site.image_id,
        clock.iso_ms(0),
        public_ip=bastion.public_ip,
        vpc_id=site.vpcs[0].vpc_id,
        region=site.region,
        groups=[{"groupId": site.security_groups[0], "groupName": "bastion"}],
    )
    if account.env == "prod":
        action = {
            "actionType": "PORT_PROBE",
            "portProbeAction": {
                "blocked": False,
                "portProbeDetails": [
                    {
                        "localPortDetails": {"port": 5432, "portName": "PostgreSQL"},
                        "localIpDetails": {"ipAddressV4": bastion.ip},
                        "remoteIpDetails": SCANNER,
                    }
                ],
            },
        }
        found = finding(
            ids,
            clock,
            site,
            kind="Recon:EC2/PortProbeUnprotectedPort",
            severity=2,
            title=f"Unprotected port on EC2 instance {bastion.instance_id} is being probed.",
            description="EC2 instance has an unprotected port which is being probed by a "
            "known malicious host.",
            resource=resource,
            action=action,
            role="TARGET",
            created=created,
            updated=created + 40,
            first=created - 300,
            last=created - 60,
            count=3,
        )
    else:
        action = {
            "actionType": "NETWORK_CONNECTION",
            "networkConnectionAction": {
                "connectionDirection": "INBOUND",
                "remoteIpDetails": BRUTE_FORCER,
                "remotePortDetails": {"port": 51234, "portName": "Unknown"},
                "localPortDetails": {"port": 22, "portName": "SSH"},
                "localIpDetails": {"ipAddressV4": bastion.ip},
                "protocol": "TCP",
                "blocked": False,
            },
        }
        found = finding(
            ids,
            clock,
            site,
            kind="UnauthorizedAccess:EC2/SSHBruteForce",
            severity=2,
            title=f"{BRUTE_FORCER['ipAddressV4']} is performing SSH brute force attacks "
            f"against {bastion.instance_id}.",
            description=f"{BRUTE_FORCER['ipAddressV4']} is performing SSH brute force "
            f"attacks against {bastion.instance_id}. Brute force attacks are "
            f"used to gain unauthorized access to your instance by guessing "
            f"the SSH password.",
            resource=resource,
            action=action,
            role="TARGET",
            created=created,
            updated=created + 40,
            first=created - 900,
            last=created - 120,
            count=41,
        )
    return [(site, Export(created + 240, found))]


def write_exports(sink: Sink, ids: Ids, clock: Clock, exports: list[tuple[Site, Export]]) -> Count:
    """Write each export as one ``<uuid>.jsonl.gz`` object of JSON lines."""
    count = Count()
    for site, export in sorted(exports, key=lambda se: (se[1].second, se[0].region)):
        key = f"AWSLogs/{site.account}/GuardDuty/{site.region}/{clock.path}/{ids.uuid()}.jsonl.gz"
        if sink.put(key, dumps(export.finding) + b"\n"):
            count.add(1)
    return count
