"""The landing zone's static inventory: accounts, regions, VPCs, ENIs and named resources."""

from __future__ import annotations

import random
from dataclasses import dataclass

from devtools.sample.ground_truth import ATTACK
from devtools.sample.ids import Ids

REGIONS = ("us-east-1", "eu-west-1", "us-west-2")
REGION_WEIGHT = {"us-east-1": 0.6, "eu-west-1": 0.25, "us-west-2": 0.15}
HOME_REGION = "us-east-1"  # where IAM, sign-in and S3 ListBuckets events are recorded

# The organization whose trail delivers ORG_TRAIL_ACCOUNT's CloudTrail
# (``AWSLogs/<org-id>/<account>/CloudTrail/...``); the other accounts have trails of their own.
ORG_ID = "o-tw7k2m9q4x"
ORG_TRAIL_ACCOUNT = "444455556666"
# The account whose flow logs are delivered as Parquet with Hive-compatible prefixes.
PARQUET_FLOW_ACCOUNT = "444455556666"
# The (account, region) whose CloudTrail and flow records reach the landing zone only through
# Amazon Security Lake (OCSF Parquet under aws/CLOUD_TRAIL_MGMT/ and aws/VPC_FLOW/), never as
# native deliveries: nothing is counted twice. Its Resolver query logs and GuardDuty exports stay
# native (trailwarden reads no Security Lake source for them).
SECURITY_LAKE_SITE = ("444455556666", "us-west-2")
# The (account, region) whose CloudTrail reaches the landing zone only through CloudWatch Logs, a
# subscription filter and Firehose (envelopes under firehose/cloudtrail/), never natively. Its
# region comes last in REGIONS, so the rest of the sample is generated as without it.
FIREHOSE_SITE = ("111122223333", "us-west-2")
# (account id, environment name, activity weight); more are derived when a scale needs them.
KNOWN_ACCOUNTS = (
    ("111122223333", "prod", 3.0),
    ("444455556666", "dev", 2.0),
    ("555566667777", "shared", 1.5),
    ("777788889999", "sandbox", 1.5),
    ("222233334444", "data", 1.0),
    ("888899990000", "staging", 1.0),
)

# The default format, and a custom v5 format in another order (as account 444455556666 uses).
V2_FIELDS = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)
V5_FIELDS = (
    "version",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "interface-id",
    "account-id",
    "type",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "protocol",
    "bytes",
    "packets",
    "start",
    "end",
    "action",
    "tcp-flags",
    "log-status",
    "flow-direction",
    "traffic-path",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
)

AZS = {
    "us-east-1": (("us-east-1a", "use1-az4"), ("us-east-1b", "use1-az6")),
    "eu-west-1": (("eu-west-1a", "euw1-az3"), ("eu-west-1b", "euw1-az1")),
    "us-west-2": (("us-west-2a", "usw2-az2"), ("us-west-2b", "usw2-az1")),
}
# ENI roles and how many of each a VPC has, per region.
LAYOUT = {
    "us-east-1": (
        ("web", 3),
        ("app", 3),
        ("batch", 2),
        ("dns", 1),
        ("bastion", 1),
        ("alb", 2),
        ("rds", 1),
        ("lambda", 2),
    ),
    "eu-west-1": (
        ("web", 2),
        ("app", 2),
        ("batch", 1),
        ("dns", 1),
        ("alb", 2),
        ("rds", 1),
        ("lambda", 1),
    ),
    "us-west-2": (("app", 1), ("batch", 1), ("dns", 1), ("rds", 1), ("lambda", 1)),
}
INSTANCE_ROLES = frozenset({"web", "app", "batch", "dns", "bastion"})
TIER_OCTET = {"public": 0, "private": 32, "data": 64}  # third octet base; AZ b adds 16
TIER = {"bastion": "public", "alb": "public", "rds": "data"}
NAT_PREFIX = {"us-east-1": "3.210.", "eu-west-1": "34.246.", "us-west-2": "44.231."}
LAMBDA_PREFIX = {"us-east-1": "3.239.", "eu-west-1": "3.250.", "us-west-2": "35.89."}
PUBLIC_PREFIX = {"us-east-1": "54.163.", "eu-west-1": "54.229.", "us-west-2": "52.38."}


@dataclass(frozen=True)
class Eni:
    """A network interface; ``instance_id`` is ``"-"`` for ALB, RDS and Lambda interfaces."""

    eni_id: str
    ip: str
    subnet_id: str
    az: str
    az_id: str
    role: str
    instance_id: str
    public_ip: str | None


@dataclass(frozen=True)
class Vpc:
    """A VPC with one flow log (``interval`` is its max aggregation interval, seconds)."""

    vpc_id: str
    flow_log_id: str
    interval: int
    enis: tuple[Eni, ...]


@dataclass(frozen=True)
class Site:
    """One account in one region, with the resources routine API calls name."""

    account: str
    env: str
    region: str
    weight: float
    vpcs: tuple[Vpc, ...]
    nat_ip: str
    lambda_ips: tuple[str, ...]
    instances: tuple[Eni, ...]
    functions: tuple[str, ...]
    buckets: tuple[str, ...]
    tables: tuple[str, ...]
    params: tuple[str, ...]
    secrets: tuple[str, ...]
    kms_keys: tuple[str, ...]
    alarms: tuple[str, ...]
    security_groups: tuple[str, ...]
    image_id: str
    detector_id: str

    @property
    def instance_ids(self) -> tuple[str, ...]:
        """Ids of the routine fleet's instances."""
        return tuple(e.instance_id for e in self.instances)


@dataclass(frozen=True)
class Account:
    """An AWS account, its flow-log format and its three regional sites."""

    account_id: str
    env: str
    weight: float
    flow_fields: tuple[str, ...]
    sites: tuple[Site, ...]

    def site(self, region: str) -> Site:
        """The site in ``region``."""
        return next(s for s in self.sites if s.region == region)


def account_count(events: int, capacity: int = 250_000) -> int:
    """Accounts needed so none logs much more than ``capacity`` events a day (at least two)."""
    return max(2, -(-events // capacity))


def account_ref(index: int) -> tuple[str, str, float]:
    """(id, environment, weight) of the ``index``-th account."""
    if index < len(KNOWN_ACCOUNTS):
        return KNOWN_ACCOUNTS[index]
    return f"{300000000000 + 7919 * index:012d}", f"team{index}", 1.0


def build_account(seed: int, index: int) -> Account:
    """The ``index``-th account, the same for the same ``seed`` in any process."""
    account_id, env, weight = account_ref(index)
    ids = Ids(random.Random(f"{seed}:landscape:{account_id}"))
    fields = V2_FIELDS if index % 2 == 0 else V5_FIELDS
    sites = tuple(_site(ids, account_id, env, index, i, region) for i, region in enumerate(REGIONS))
    return Account(account_id, env, weight, fields, sites)


def _site(
    ids: Ids, account: str, env: str, acct_index: int, region_index: int, region: str
) -> Site:
    octet = (16 + 24 * acct_index + 8 * region_index) % 256
    enis = _enis(ids, region, octet)
    vpcs = [Vpc(ids.resource("vpc"), ids.resource("fl"), 600, enis)]
    if account == ATTACK.account_id and region == ATTACK.region:
        vpcs.append(Vpc(ATTACK.vpc_id, ATTACK.flow_log_id, 60, ()))  # the default VPC
    n_fn = {"us-east-1": 4, "eu-west-1": 2, "us-west-2": 1}[region]
    return Site(
        account=account,
        env=env,
        region=region,
        weight=REGION_WEIGHT[region],
        vpcs=tuple(vpcs),
        nat_ip=ids.ip(NAT_PREFIX[region]),
        lambda_ips=tuple(ids.ip(LAMBDA_PREFIX[region]) for _ in range(3)),
        instances=tuple(e for e in enis if e.role in INSTANCE_ROLES),
        functions=(
            f"{env}-orders-api",
            f"{env}-invoice-worker",
            f"{env}-thumbnailer",
            f"{env}-audit-shipper",
        )[:n_fn],
        buckets=tuple(f"tw-{env}-{p}-{account}-{region}" for p in ("assets", "backups", "reports")),
        tables=(f"{env}-orders", f"{env}-sessions"),
        params=(f"/{env}/orders/db-host", f"/{env}/orders/api-url", f"/{env}/shared/feature-flags"),
        secrets=(f"{env}/orders/db", f"{env}/invoice/payment-provider"),
        kms_keys=(ids.uuid(), ids.uuid()),
        alarms=(f"{env}-orders-api-5xx", f"{env}-invoice-errors", f"{env}-rds-cpu-high"),
        security_groups=tuple(ids.resource("sg") for _ in range(4)),
        image_id=ids.resource("ami"),
        detector_id=ids.hex(32),
    )


def _enis(ids: Ids, region: str, octet: int) -> tuple[Eni, ...]:
    subnets = {(tier, az): ids.resource("subnet") for tier in TIER_OCTET for az, _ in AZS[region]}
    enis: list[Eni] = []
    used: set[str] = set()
    for role, count in LAYOUT[region]:
        for n in range(count):
            (az, az_id), tier = AZS[region][n % 2], TIER.get(role, "private")
            ip = ""
            while not ip or ip in used:
                third = TIER_OCTET[tier] + 16 * (n % 2) + ids.rng.randint(0, 3)
                ip = f"10.{octet}.{third}.{ids.rng.randint(4, 250)}"
            used.add(ip)
            enis.append(
                Eni(
                    eni_id=ids.resource("eni"),
                    ip=ip,
                    subnet_id=subnets[(tier, az)],
                    az=az,
                    az_id=az_id,
                    role=role,
                    instance_id=ids.resource("i") if role in INSTANCE_ROLES else "-",
                    public_ip=ids.ip(PUBLIC_PREFIX[region]) if role == "bastion" else None,
                )
            )
    return tuple(enis)
