"""The sample landing zone's files read back, for the ``test_sample_*`` modules: the S3 key
layout of each source it delivers, what a key names (source, account, region), and readers for
gzip lines, multi-member gzip objects and flow-log tables (text or Parquet)."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import pyarrow.parquet as pq

REGION = r"(?:us-east-1|eu-west-1|us-west-2)"
DAY = r"(\d{4})/(\d{2})/(\d{2})"
ORG = r"(?:o-[a-z0-9]{10,32}/)?"  # an organization trail's folder
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LAYOUT = {
    "cloudtrail": re.compile(
        rf"AWSLogs/{ORG}(\d{{12}})/CloudTrail/({REGION})/{DAY}/\1_CloudTrail_\2_\3\4\5T\d{{4}}Z"
        r"_[A-Za-z0-9]{16}\.json\.gz"
    ),
    "cloudtrail_digest": re.compile(
        rf"AWSLogs/{ORG}(\d{{12}})/CloudTrail-Digest/({REGION})/{DAY}/\1_CloudTrail-Digest_\2_"
        r"[A-Za-z0-9-]+_\2_\3\4\5T\d{6}Z\.json\.gz"
    ),
    "vpcflow": re.compile(
        rf"AWSLogs/(\d{{12}})/vpcflowlogs/({REGION})/{DAY}/\1_vpcflowlogs_\2_fl-[0-9a-f]{{17}}"
        r"_\3\4\5T\d{4}Z_[0-9a-f]{8}\.log\.gz"
    ),
    "vpcflow_parquet": re.compile(
        rf"AWSLogs/aws-account-id=(\d{{12}})/aws-service=vpcflowlogs/aws-region=({REGION})/"
        r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/\1_vpcflowlogs_\2_fl-[0-9a-f]{17}"
        r"_\3\4\5T\6\d{2}Z_[0-9a-f]{8}\.log\.parquet"
    ),
    "guardduty": re.compile(rf"AWSLogs/(\d{{12}})/GuardDuty/({REGION})/{DAY}/{UUID}\.jsonl\.gz"),
    "dns": re.compile(
        rf"AWSLogs/(\d{{12}})/vpcdnsquerylogs/(vpc-[0-9a-f]{{17}})/{DAY}/\1_vpcdnsquerylogs_\2"
        r"_\3\4\5T\d{4}Z_[0-9a-f]{8}\.log\.gz"
    ),
    # Security Lake: the account comes first (a look-ahead), as every other layout's group 1.
    **{
        f"security_lake_{name}": re.compile(
            rf"(?=.*/accountId=(\d{{12}})/)aws/{folder}/2\.0/region=({REGION})/accountId=\1/"
            rf"eventDay=(\d{{8}})/{UUID}\.gz\.parquet"
        )
        for name, folder in (("cloudtrail", "CLOUD_TRAIL_MGMT"), ("vpcflow", "VPC_FLOW"))
    },
    # Firehose's default layout; the stream's name carries the account and region (a look-ahead).
    "firehose_cloudtrail": re.compile(
        rf"(?=.*/cwl-cloudtrail-(\d{{12}})-({REGION})-1-)firehose/cloudtrail/{DAY}/(\d{{2}})/"
        rf"cwl-cloudtrail-\1-\2-1-\3-\4-\5-\6-\d{{2}}-\d{{2}}-{UUID}\.gz"
    ),
}


def files_by_key(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}


def source_of(key: str) -> str:
    return next(name for name, pattern in LAYOUT.items() if pattern.fullmatch(key))


def account_of(key: str) -> str:
    """The account a delivery key belongs to (its own folder, an org trail's, or Hive-style)."""
    return next(m.group(1) for p in LAYOUT.values() if (m := p.fullmatch(key)))


def flow_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """A flow-log file's field names and rows as text (``-`` for a missing value)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        fields = [name.replace("_", "-") for name in table.column_names]
        columns = [["-" if v is None else str(v) for v in c.to_pylist()] for c in table.columns]
        return fields, [list(row) for row in zip(*columns, strict=True)]
    header, *rows = lines_of(path)
    return header.split(" "), [row.split(" ") for row in rows]


def region_of(key: str) -> str:
    """The region of a CloudTrail, flow-log or Security Lake delivery key."""
    return next(m.group(2) for p in LAYOUT.values() if (m := p.fullmatch(key)))


def is_flow_key(key: str) -> bool:
    return source_of(key) in ("vpcflow", "vpcflow_parquet")


def lines_of(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode().splitlines()


def gzip_members(data: bytes) -> list[bytes]:
    """Each member of a multi-member gzip object, decompressed."""
    out = []
    while data:
        member = zlib.decompressobj(wbits=31)
        out.append(member.decompress(data))
        data = member.unused_data
    return out
