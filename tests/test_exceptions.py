"""Exceptions as data: every match kind, expiry, and malformed files (plain Python, no Spark)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.detect.exceptions import ExceptionsError, first_match, load_exceptions, split_expired

KNOWN = ["TW-CT-004", "key_pair_imported", "TW-CT-001", "root_access_key_used"]
NOW = datetime(2026, 12, 1, tzinfo=UTC)
CI_ROLE = "arn:aws:iam::111122223333:role/ci-deploy"
FACTS = {
    "principal_arn": {CI_ROLE},
    "access_key_id": {"ASIAEXAMPLE"},
    "account_id": {"111122223333"},
    "region": {"eu-west-1"},
    "source_ip": {"203.0.113.9", "2001:db8::7"},
    "asn": {"16509"},
    "user_agent_family": {"terraform"},
    "resource": {"sg-0abc", "ci-key"},
}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "exceptions.yml"
    path.write_text(body)
    return path


def entry(match: str, detections: str = "[key_pair_imported]", expires: str = "2027-03-01") -> str:
    return (
        "exceptions:\n  - id: e1\n    detections: "
        + detections
        + "\n    match:\n"
        + "".join(f"      {line}\n" for line in match.splitlines())
        + "    reason: CI imports its key\n    owner: platform@example.com\n"
        + f"    expires: {expires}\n"
    )


@pytest.mark.parametrize(
    ("match", "hits"),
    [
        (f"principal_arn: {CI_ROLE}", True),  # exact
        ("principal_arn: arn:aws:iam::111122223333:role/ci-dep", False),
        ('principal_arn: "arn:aws:iam::*:role/ci-*"', True),  # glob
        ('principal_arn: "arn:aws:iam::*:role/admin-*"', False),
        ("source_ip: 203.0.113.0/24", True),  # CIDR (any of the alert's IPs)
        ("source_ip: 198.51.100.0/24", False),
        ("source_ip: 2001:db8::/32", True),  # IPv6 CIDR
        ("source_ip: 203.0.113.9", True),
        ("region: [us-east-1, eu-west-1]", True),  # list: any may match
        ("region: [us-east-1, us-west-2]", False),
        ("account_id: 111122223333", True),  # a YAML number, matched as text
        ("access_key_id: ASIA*", True),
        ("asn: AS16509", True),
        ("asn: 14618", False),
        ("user_agent_family: [terraform, aws-cli]", True),
        ("resource: sg-0*", True),
        ("resource: i-0*", False),
        (f"principal_arn: {CI_ROLE}\nregion: us-east-1", False),  # every field must match
        (f"principal_arn: {CI_ROLE}\nregion: eu-west-1", True),
    ],
)
def test_every_match_kind(tmp_path: Path, match: str, hits: bool) -> None:
    entries = load_exceptions(write(tmp_path, entry(match)), KNOWN)
    assert first_match(entries, "TW-CT-004", "key_pair_imported", FACTS) == ("e1" if hits else None)


def test_an_entry_covers_only_its_detections_by_id_name_or_star(tmp_path: Path) -> None:
    match = f"principal_arn: {CI_ROLE}"
    named = load_exceptions(write(tmp_path, entry(match)), KNOWN)
    assert first_match(named, "TW-CT-001", "root_access_key_used", FACTS) is None
    by_id = load_exceptions(write(tmp_path, entry(match, "[TW-CT-001]")), KNOWN)
    assert first_match(by_id, "TW-CT-001", "root_access_key_used", FACTS) == "e1"
    star = load_exceptions(write(tmp_path, entry(match, '"*"')), KNOWN)
    assert first_match(star, "TW-CT-001", "root_access_key_used", FACTS) == "e1"


def test_an_expired_entry_matches_nothing_and_is_reported(tmp_path: Path) -> None:
    entries = load_exceptions(
        write(tmp_path, entry(f"principal_arn: {CI_ROLE}", expires="2026-12-01")), KNOWN
    )
    active, expired = split_expired(entries, NOW)
    assert active == [] and [e.id for e in expired] == ["e1"]
    assert first_match(active, "TW-CT-004", "key_pair_imported", FACTS) is None
    active, expired = split_expired(entries, datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert [e.id for e in active] == ["e1"] and expired == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            entry("principal_arn: x").replace("    expires: 2027-03-01\n", ""),
            "entry 1 (e1): missing expires.",
        ),
        (
            entry("principal_arn: x").replace("    owner: platform@example.com\n", ""),
            "entry 1 (e1): missing owner.",
        ),
        (entry("user_name: x"), "entry 1 (e1): match.user_name is not one of principal_arn"),
        (
            entry("source_ip: 10.0.0.0/33"),
            "entry 1 (e1): match.source_ip value '10.0.0.0/33' is not a CIDR",
        ),
        (entry("asn: amazon"), "entry 1 (e1): match.asn value 'amazon' is not an AS number"),
        (entry("region: []"), "entry 1 (e1): match.region is an empty list."),
        (
            entry("principal_arn: x", "[no_such_rule]"),
            "entry 1 (e1): no detection named no_such_rule.",
        ),
        (entry("principal_arn: x", expires="soon"), "entry 1 (e1): expires 'soon' is not a date"),
        (entry("principal_arn: x") + "    colour: red\n", "entry 1 (e1): unknown keys colour."),
        (
            entry("principal_arn: x") + entry("region: x").replace("exceptions:\n", ""),
            "entry 2 (e1): the id is already used by an earlier entry.",
        ),
        ("exceptions:\n  - just a string\n", "entry 1: must be a mapping"),
        ("exceptions: {id: e1}\n", "exceptions must be a list of entries."),
        ("exceptions: [\n", "not valid YAML"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_entry(
    tmp_path: Path, body: str, message: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ExceptionsError) as raised:
        load_exceptions(path, KNOWN)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_the_shipped_file_is_valid_and_empty() -> None:
    from jobs.detect.catalog import load_catalog
    from jobs.runtime.config import CONF_DIR

    names = [k for d in load_catalog() for k in (d.id, d.name)]
    assert load_exceptions(CONF_DIR / "exceptions.yml", names) == []
