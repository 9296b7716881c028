"""Request and response shapes of RunInstances and TerminateInstances as CloudTrail logs them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devtools.sample.ids import Ids

CORES = {"c5.4xlarge": 8, "t3.micro": 1}


def private_dns(ip: str, region: str) -> str:
    """EC2's private DNS name for ``ip``."""
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


@dataclass(frozen=True)
class Launch:
    """One RunInstances call and the instances it returned."""

    account: str
    region: str
    az: str
    image_id: str
    instance_type: str
    key_name: str | None
    group_id: str
    group_name: str
    subnet_id: str
    vpc_id: str
    reservation_id: str
    launch_ms: int
    instance_ids: tuple[str, ...]
    eni_ids: tuple[str, ...]
    private_ips: tuple[str, ...]


def run_request(launch: Launch, client_token: str) -> dict[str, Any]:
    """``requestParameters`` of RunInstances (one ``items`` entry with min/max count)."""
    item: dict[str, Any] = {
        "imageId": launch.image_id,
        "minCount": len(launch.instance_ids),
        "maxCount": len(launch.instance_ids),
    }
    if launch.key_name:
        item["keyName"] = launch.key_name
    return {
        "instancesSet": {"items": [item]},
        "groupSet": {"items": [{"groupId": launch.group_id}]},
        "instanceType": launch.instance_type,
        "blockDeviceMapping": {},
        "monitoring": {"enabled": False},
        "disableApiTermination": False,
        "disableApiStop": False,
        "clientToken": client_token,
    }


def run_response(ids: Ids, launch: Launch) -> dict[str, Any]:
    """``responseElements`` of RunInstances: every instance with its primary network interface."""
    groups = {"items": [{"groupId": launch.group_id, "groupName": launch.group_name}]}
    items = []
    for index, (iid, eni, ip) in enumerate(
        zip(launch.instance_ids, launch.eni_ids, launch.private_ips, strict=True)
    ):
        dns = private_dns(ip, launch.region)
        mac = "0e:" + ":".join(ids.hex(2) for _ in range(5))
        item: dict[str, Any] = {
            "instanceId": iid,
            "imageId": launch.image_id,
            "currentState": {"code": 0, "name": "pending"},
            "privateDnsName": dns,
            "amiLaunchIndex": index,
            "productCodes": {},
            "instanceType": launch.instance_type,
            "launchTime": launch.launch_ms,
            "placement": {"availabilityZone": launch.az, "tenancy": "default"},
            "monitoring": {"state": "disabled"},
            "subnetId": launch.subnet_id,
            "vpcId": launch.vpc_id,
            "privateIpAddress": ip,
            "stateReason": {"code": "pending", "message": "pending"},
            "architecture": "x86_64",
            "rootDeviceType": "ebs",
            "rootDeviceName": "/dev/xvda",
            "blockDeviceMapping": {},
            "virtualizationType": "hvm",
            "hypervisor": "xen",
            "groupSet": groups,
            "sourceDestCheck": True,
            "networkInterfaceSet": {
                "items": [
                    {
                        "networkInterfaceId": eni,
                        "subnetId": launch.subnet_id,
                        "vpcId": launch.vpc_id,
                        "ownerId": launch.account,
                        "status": "in-use",
                        "macAddress": mac,
                        "privateIpAddress": ip,
                        "privateDnsName": dns,
                        "sourceDestCheck": True,
                        "interfaceType": "interface",
                        "groupSet": groups,
                        "attachment": {
                            "attachmentId": ids.resource("eni-attach"),
                            "deviceIndex": 0,
                            "networkCardIndex": 0,
                            "status": "attaching",
                            "attachTime": launch.launch_ms,
                            "deleteOnTermination": True,
                        },
                        "privateIpAddressesSet": {
                            "item": [
                                {"privateIpAddress": ip, "privateDnsName": dns, "primary": True}
                            ]
                        },
                        "ipv6AddressesSet": {},
                        "tagSet": {},
                    }
                ]
            },
            "ebsOptimized": False,
            "enaSupport": True,
            "cpuOptions": {"coreCount": CORES.get(launch.instance_type, 2), "threadsPerCore": 2},
            "capacityReservationSpecification": {"capacityReservationPreference": "open"},
            "enclaveOptions": {"enabled": False},
            "metadataOptions": {
                "state": "pending",
                "httpTokens": "optional",
                "httpPutResponseHopLimit": 1,
                "httpEndpoint": "enabled",
                "httpProtocolIpv4": "enabled",
                "httpProtocolIpv6": "disabled",
                "instanceMetadataTags": "disabled",
            },
            "maintenanceOptions": {"autoRecovery": "default"},
            "privateDnsNameOptions": {
                "hostnameType": "ip-name",
                "enableResourceNameDnsARecord": False,
                "enableResourceNameDnsAAAARecord": False,
            },
        }
        if launch.key_name:
            item["keyName"] = launch.key_name
        items.append(item)
    return {
        "requestId": ids.uuid(),
        "reservationId": launch.reservation_id,
        "ownerId": launch.account,
        "groupSet": {},
        "instancesSet": {"items": items},
    }


def terminate_request(instance_ids: tuple[str, ...]) -> dict[str, Any]:
    """``requestParameters`` of TerminateInstances."""
    return {"instancesSet": {"items": [{"instanceId": i} for i in instance_ids]}}


def terminate_response(ids: Ids, instance_ids: tuple[str, ...]) -> dict[str, Any]:
    """``responseElements`` of TerminateInstances: running -> shutting-down."""
    return {
        "requestId": ids.uuid(),
        "instancesSet": {
            "items": [
                {
                    "instanceId": i,
                    "currentState": {"code": 32, "name": "shutting-down"},
                    "previousState": {"code": 16, "name": "running"},
                }
                for i in instance_ids
            ]
        },
    }
