"""Generating the sample: byte-identical output, an hour range that keeps exactly the files
delivered in those hours, the Security Lake and Firehose sites delivered natively when those are
off, the responder's clean-up written beside the day, long-lived ids shared across days but not
event ids, volumes linear in the scale, and the command line."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from devtools.sample.actors import build_roster
from devtools.sample.build import Plan
from devtools.sample.cli import ATTACK, Count, Summary, generate, main, write_remediation
from devtools.sample.ids import Clock
from devtools.sample.landscape import FIREHOSE_SITE, SECURITY_LAKE_SITE, build_account
from tests.support.sample_files import (
    LAYOUT,
    account_of,
    files_by_key,
    flow_table,
    gzip_members,
    is_flow_key,
    lines_of,
    region_of,
    source_of,
)

REMEDIATION_NAMES = {
    "UpdateAccessKey", "DeleteAccessKey", "TerminateInstances", "RevokeSecurityGroupIngress",
    "DeleteSecurityGroup", "DeleteKeyPair",
}  # fmt: skip


def test_generation_is_byte_identical(
    sample_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    again = tmp_path_factory.mktemp("again")
    generate(again)

    def digests(found: dict[str, Path]) -> dict[str, str]:
        return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in found.items()}

    assert digests(files_by_key(again)) == digests(sample_files)


def test_hours_keep_exactly_the_day_files_delivered_in_them(
    sample_files: dict[str, Path], sample_landing: tuple[Path, Summary], tmp_path: Path
) -> None:
    summary = generate(tmp_path, hours=(13, 14))
    part = files_by_key(tmp_path)
    stamp = re.compile(r"_20261120T(\d{2})\d{2,4}Z[_.]")

    def delivered(key: str) -> int | None:
        """The delivery hour: the key's stamp, a Firehose object's prefix, or a Security Lake
        object's: the end of the hour its rows belong to (kept inside the day)."""
        if (m := stamp.search(key.rsplit("/", 1)[-1])) is not None:
            return int(m.group(1))
        if source_of(key) == "firehose_cloudtrail":
            return int(LAYOUT["firehose_cloudtrail"].fullmatch(key).group(6))  # type: ignore[union-attr]
        if source_of(key).startswith("security_lake"):
            times = pq.read_table(sample_files[key], columns=["time"]).column("time")
            first = min(times.to_pylist())
            return min(datetime.fromtimestamp(first / 1000, UTC).hour + 1, 23)
        return None

    expected = {k for k in sample_files if delivered(k) in (None, 13, 14)}
    assert set(part) == expected
    assert {source_of(k) for k in part} >= {
        "security_lake_cloudtrail", "security_lake_vpcflow", "firehose_cloudtrail"}
    assert all(part[k].read_bytes() == sample_files[k].read_bytes() for k in part)
    # GuardDuty's exports name no delivery time: all kept.
    assert summary.guardduty == sample_landing[1].guardduty
    assert 0 < summary.cloudtrail.files < sample_landing[1].cloudtrail.files
    assert summary.cloudtrail.records == sum(
        len(json.loads(gzip.decompress(p.read_bytes()))["Records"])
        for k, p in part.items() if source_of(k) == "cloudtrail"
    )
    assert summary.vpcflow.records == sum(
        len(flow_table(p)[1]) for k, p in part.items() if is_flow_key(k)
    )
    assert 0 < summary.dns.records == sum(
        len(lines_of(p)) for k, p in part.items() if source_of(k) == "dns"
    ) < sample_landing[1].dns.records
    for name in ("security_lake_cloudtrail", "security_lake_vpcflow"):
        assert 0 < getattr(summary, name).records == sum(
            pq.read_metadata(p).num_rows for k, p in part.items() if source_of(k) == name
        ) < getattr(sample_landing[1], name).records
    assert 0 < summary.firehose_cloudtrail.records == sum(
        len(json.loads(m)["logEvents"]) for k, p in part.items()
        if source_of(k) == "firehose_cloudtrail" for m in gzip_members(p.read_bytes())
        if json.loads(m)["messageType"] == "DATA_MESSAGE"
    ) < sample_landing[1].firehose_cloudtrail.records
    with pytest.raises(ValueError, match="hours"):
        generate(tmp_path / "bad", hours=(15, 13))


def test_without_security_lake_nor_firehose_the_sites_are_delivered_natively(
    tmp_path: Path,
) -> None:
    """What the benchmark generates: its baselines read only the native formats."""
    summary = generate(tmp_path, hours=(14, 14), security_lake=False, firehose=False)
    part = files_by_key(tmp_path)
    assert (summary.security_lake_cloudtrail, summary.security_lake_vpcflow) == (Count(), Count())
    assert summary.firehose_cloudtrail == Count()
    assert not [k for k in part if source_of(k).startswith(("security_lake", "firehose"))]
    native = {source_of(k) for k in part if source_of(k) in ("cloudtrail", "vpcflow_parquet")
              and (account_of(k), region_of(k)) == SECURITY_LAKE_SITE}
    assert native == {"cloudtrail", "vpcflow_parquet"}
    assert [k for k in part if source_of(k) == "cloudtrail"
            and (account_of(k), region_of(k)) == FIREHOSE_SITE]


def test_remediation_adds_the_clean_up_beside_the_day(
    sample_files: dict[str, Path], tmp_path: Path
) -> None:
    summary = write_remediation(tmp_path)
    added = files_by_key(tmp_path)
    assert summary.cloudtrail.files == len(added) == 2
    assert not set(added) & set(sample_files)
    assert all(source_of(k) == "cloudtrail" for k in added)
    events = [
        e for p in added.values() for e in json.loads(gzip.decompress(p.read_bytes()))["Records"]
    ]
    assert {e["eventName"] for e in events} >= REMEDIATION_NAMES
    start, end = (
        t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in (ATTACK.remediation_start, ATTACK.remediation_end)
    )
    assert all(start <= e["eventTime"] <= end for e in events)
    by_name = {e["eventName"]: e for e in events if not e.get("errorCode")}
    assert by_name["UpdateAccessKey"]["requestParameters"] == {
        "accessKeyId": ATTACK.access_key_id,
        "status": "Inactive",
    }
    assert by_name["DeleteAccessKey"]["requestParameters"]["accessKeyId"] == ATTACK.access_key_id
    terminated = by_name["TerminateInstances"]["requestParameters"]["instancesSet"]["items"]
    assert tuple(i["instanceId"] for i in terminated) == ATTACK.instance_ids
    assert (
        by_name["DeleteSecurityGroup"]["requestParameters"]["groupId"] == ATTACK.security_group_id
    )
    assert by_name["DeleteKeyPair"]["requestParameters"]["keyName"] == ATTACK.key_name


def test_days_share_long_lived_ids_but_not_event_ids(tmp_path: Path) -> None:
    account = build_account(7, 0)
    one, two = (
        build_roster(7, Clock(d), account) for d in (date(2026, 11, 20), date(2026, 11, 21))
    )
    keys = [
        {a.name: a.faces[0][0].get("accessKeyId") for a in r.actors if a.name.endswith("-cli")}
        for r in (one, two)
    ]
    assert keys[0] == keys[1] and all(k and k.startswith("AKIA") for k in keys[0].values())
    assert one.logins != two.logins
    event_ids = []
    for day in (date(2026, 11, 20), date(2026, 11, 21)):
        write_remediation(tmp_path / day.isoformat(), day=day)
        event_ids.append(
            {
                e["eventID"]
                for p in files_by_key(tmp_path / day.isoformat()).values()
                for e in json.loads(gzip.decompress(p.read_bytes()))["Records"]
            }
        )
    assert event_ids[0] and not event_ids[0] & event_ids[1]


def test_scale_sets_volumes_linearly() -> None:
    assert (
        Plan.of(0, ATTACK.start.date(), 7).events,
        Plan.of(0, ATTACK.start.date(), 7).flows,
    ) == (
        5_000,
        6_000,
    )
    assert Plan.of(0.01, ATTACK.start.date(), 7).events == 10_000
    big = Plan.of(1, ATTACK.start.date(), 7)
    assert (big.events, big.flows, big.accounts) == (1_000_000, 5_000_000, 4)
    assert sum(big.share(i) for i in range(big.accounts)) == pytest.approx(1)
    with pytest.raises(ValueError, match="scale"):
        Plan.of(-1, ATTACK.start.date(), 7)


def test_cli_writes_remediation_and_prints_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path), "--remediation"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^cloudtrail\s+2 files\s+\d+ records$", out, re.MULTILINE)
    assert "wrote" in out
