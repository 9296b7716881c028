"""The injected attack's ground truth: constants tests and detections assert on exactly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Attack:
    """A leaked root access key used to launch ten crypto-mining instances.

    Times are for the default day (2026-11-20); for another ``day`` the same times of day apply.
    """

    account_id: str
    region: str
    access_key_id: str
    attacker_ip: str
    user_agent: str
    key_name: str
    key_pair_id: str
    security_group_id: str
    security_group_name: str
    image_id: str
    instance_type: str
    reservation_id: str
    vpc_id: str
    subnet_id: str
    availability_zone: str
    flow_log_id: str
    instance_ids: tuple[str, ...]
    eni_ids: tuple[str, ...]
    private_ips: tuple[str, ...]
    pool_ip: str
    pool_port: int
    recon: datetime
    start: datetime
    run_instances: datetime
    finding_type: str
    finding_severity: int
    finding_created: datetime
    remediation_start: datetime
    remediation_end: datetime


def _utc(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)


ATTACK = Attack(
    account_id="111122223333",
    region="us-east-1",
    access_key_id="AKIAG7BBUL4YREMHR5JH",
    attacker_ip="167.99.54.10",
    user_agent="aws-sdk-go/1.44.298 (go1.20.6; linux; amd64)",
    key_name="svc-maint-2026",
    key_pair_id="key-0ddcde080ac6be751",
    security_group_id="sg-0482c4a70731fcd4a",
    security_group_name="maint-ssh",
    image_id="ami-04f9615a5ecd508cc",
    instance_type="c5.4xlarge",
    reservation_id="r-02d4c76eabdadac5d",
    vpc_id="vpc-0a4ba42854c7ffc2a",
    subnet_id="subnet-0edd096c62466477f",
    availability_zone="us-east-1a",
    flow_log_id="fl-0dcdbf5a77585ab1c",
    instance_ids=(
        "i-0efc93fe5098a9e3d",
        "i-07b09d01bec4feeea",
        "i-0927ced20040794b0",
        "i-0d185e1195ffc32f4",
        "i-01ff9b274157eb94d",
        "i-02d391f0b0d59f009",
        "i-07dfbcf5652123394",
        "i-0e7149533bf3973d3",
        "i-09d221414b58174d3",
        "i-045293748ce7e1472",
    ),
    eni_ids=(
        "eni-084ca506011d991f0",
        "eni-0aead7903d8998b80",
        "eni-08b9750296eab7375",
        "eni-0efa43a371771267d",
        "eni-08b8effce5e9da613",
        "eni-0fb0278607071c132",
        "eni-0b7c502e6bee5f2c3",
        "eni-067d65509ce29a4fd",
        "eni-03561d3f5d529ab57",
        "eni-0d2ca4ab89aecf332",
    ),
    private_ips=(
        "172.31.35.149",
        "172.31.35.85",
        "172.31.45.67",
        "172.31.32.144",
        "172.31.36.188",
        "172.31.41.99",
        "172.31.39.99",
        "172.31.38.161",
        "172.31.35.126",
        "172.31.40.155",
    ),
    pool_ip="141.94.96.144",
    pool_port=7777,
    recon=_utc(13, 42, 17),
    start=_utc(14, 2),
    run_instances=_utc(14, 6, 55),
    finding_type="CryptoCurrency:EC2/BitcoinTool.B",
    finding_severity=8,
    finding_created=_utc(14, 20, 11),
    remediation_start=_utc(14, 39),
    remediation_end=_utc(14, 45),
)
