"""Which files a run reads, without Spark: S3 listing from per account/region watermarks
(against a moto server on 127.0.0.1) and the periodic full listing that finds backfills,
malformed date folders, re-delivered objects, and the per-file limits checked before Spark reads
a file. S3 event notifications: tests/test_s3_notifications.py."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from jobs.ingest.discover import discover, file_version, new_files
from jobs.ingest.landing import (
    BAD_DATE,
    NOT_IN_LAYOUT,
    UNRECOGNIZED,
    LandingFile,
    classify,
    delivery_date,
    local_uri,
    open_landing,
    unrecognized_reason,
)
from jobs.ingest.limits import FileLimits, inflated_size, screen
from jobs.ingest.s3_listing import list_new, split_uri, watermarks
from jobs.runtime.config import load_config
from jobs.sources import SOURCES
from tests.support.moto_server import MotoEndpoint, moto_endpoint

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CT = "AWSLogs/1/CloudTrail/us-east-1"


def test_watermarks_are_per_account_and_region_and_ignore_bad_dates() -> None:
    paths = [f"s3a://b/{CT}/2026/11/19/x.json.gz",
             f"s3a://b/{CT}/2026/11/20/y.json.gz",
             "s3a://b/AWSLogs/2/vpcflowlogs/eu-west-1/2026/10/02/z.log.gz",
             f"s3a://b/{CT}/2026/13/45/bad.json.gz",
             "s3a://b/cloudtrail-exports/undated.json"]
    assert watermarks(paths) == {f"s3a://b/{CT}/": date(2026, 11, 20),
                                 "s3a://b/AWSLogs/2/vpcflowlogs/eu-west-1/": date(2026, 10, 2)}
    assert delivery_date(f"s3a://b/{CT}/2026/02/30/x.json.gz") is None
    assert split_uri("s3a://bucket/org/") == ("bucket", "org/")
    assert split_uri("s3a://bucket") == ("bucket", "")


def test_malformed_date_folders_are_unrecognised_with_a_reason() -> None:
    bad = [f"s3a://b/{CT}/2026/13/45/x.json.gz", f"s3a://b/{CT}/2026/11/x.json.gz",
           f"s3a://b/{CT}/2026/1/5/x.json.gz"]
    for path in bad:
        assert classify(path, SOURCES) == UNRECOGNIZED, path
        assert unrecognized_reason(path, SOURCES) == BAD_DATE
    assert classify(f"s3a://b/{CT}/2026/11/20/x.json.gz", SOURCES) == "cloudtrail"
    assert unrecognized_reason("s3a://b/README.txt", SOURCES) == NOT_IN_LAYOUT


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoEndpoint]:
    yield from moto_endpoint()


def test_each_root_is_listed_from_its_own_watermark(moto: MotoEndpoint) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="logs")
    keys = [
        f"org/{CT}/2026/10/01/old.json.gz",  # before us-east-1's watermark minus a day
        f"org/{CT}/2026/11/19/late.json.gz",
        f"org/{CT}/2026/11/20/new.json.gz",
        "org/AWSLogs/1/CloudTrail/eu-west-1/2026/09/03/lagging.json.gz",  # lags by two months
        "org/AWSLogs/1/CloudTrail/eu-west-1/2026/08/30/lagging-old.json.gz",
        "org/AWSLogs/3/CloudTrail/us-east-1/2024/01/05/backfilled.json.gz",  # a new account
        f"org/{CT}/2026/13/45/bad-day.json.gz",
        f"org/{CT}/2026/11/stray.json.gz",
        "org/AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/20/digest.json.gz",
        "org/cloudtrail-exports/export-1.json",
        f"org/{CT}/2026/11/20/_SUCCESS",
    ]
    for key in keys:
        s3.put_object(Bucket="logs", Key=key, Body=b"{}")
    calls: list[str] = []
    s3.meta.events.register("provide-client-params.s3.ListObjectsV2",
                            lambda params, **_: calls.append(params["Prefix"]))
    marks = watermarks([
        f"s3a://logs/org/{CT}/2026/11/20/new.json.gz",
        "s3a://logs/org/AWSLogs/1/CloudTrail/eu-west-1/2026/09/02/seen.json.gz",
        "s3a://logs/org/AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/20/d.json.gz",
    ])

    listed = list_new(s3, "s3a://logs/org", marks, 1)
    found = [f.path.removeprefix("s3a://logs/org/") for f in listed]

    assert found == [
        "AWSLogs/1/CloudTrail-Digest/us-east-1/2026/11/20/digest.json.gz",
        "AWSLogs/1/CloudTrail/eu-west-1/2026/09/03/lagging.json.gz",
        f"{CT}/2026/11/19/late.json.gz",
        f"{CT}/2026/11/20/new.json.gz",
        f"{CT}/2026/11/stray.json.gz",
        f"{CT}/2026/13/45/bad-day.json.gz",
        "AWSLogs/3/CloudTrail/us-east-1/2024/01/05/backfilled.json.gz",
        "cloudtrail-exports/export-1.json",
    ]
    assert not any(c.endswith(("2026/10/", "2026/08/")) for c in calls)
    assert all(c.startswith("org/") for c in calls)
    assert len(list_new(s3, "s3a://logs/org/", {}, 1)) == 10  # nothing ingested: all but _SUCCESS


def test_a_backfill_older_than_the_watermark_is_found_by_the_next_full_listing(
    moto: MotoEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    moto.point_here(monkeypatch)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="recon")
    seen, late = f"org/{CT}/2026/11/20/seen.json.gz", f"org/{CT}/2026/11/21/late.json.gz"
    backfill = f"org/{CT}/2026/10/01/backfill.json.gz"
    for key in (seen, late, backfill):
        s3.put_object(Bucket="recon", Key=key, Body=b"{}")
    head = s3.head_object(Bucket="recon", Key=seen)
    done = {f"s3a://recon/{seen}": [(2, head["LastModified"], head["ETag"].strip('"'))]}
    conf = load_config("test", ["landing=s3a://recon/org", f"s3.endpoint={moto.url}",
                                "s3.path_style_access=true", "s3.full_listing_every=24h"])
    now = datetime.now(UTC)

    incremental = discover(conf, done, now - timedelta(hours=23), now)
    full = discover(conf, done, now - timedelta(hours=24), now)

    assert (incremental.mode, incremental.full_listing) == ("listing", False)
    assert [f.path for f in new_files(incremental.files, done)[0]] == [f"s3a://recon/{late}"]
    assert full.full_listing
    assert [f.path for f in new_files(full.files, done)[0]] == [
        f"s3a://recon/{backfill}", f"s3a://recon/{late}"]


def test_inflated_size_counts_every_member_and_stops_at_the_cap() -> None:
    member = gzip.compress(b"\0" * (1 << 20), mtime=0)
    bomb = member * 64  # 64 MiB from ~65 KB: the last member's trailer says only 1 MiB
    assert int.from_bytes(bomb[-4:], "little") == 1 << 20
    assert 8 << 20 < inflated_size(io.BytesIO(bomb), 8 << 20) <= 9 << 20
    assert inflated_size(io.BytesIO(bomb), 100 << 20) == 64 << 20
    assert inflated_size(io.BytesIO(member[:10] + b"\xff" * 20), 4 << 20) is None  # bad block
    assert inflated_size(io.BytesIO(b"not gzip"), 10) is None


def test_screen_refuses_big_files_bombs_and_other_codecs_and_opens_only_suspects(
    tmp_path: Path,
) -> None:
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (16 << 20), mtime=0))
    small = tmp_path / "small.json.gz"
    small.write_bytes(gzip.compress(b'{"Records": []}', mtime=0))
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 100_000)
    odd = tmp_path / "x.json.bz2"
    odd.write_bytes(b"BZh9")
    files = [LandingFile(local_uri(str(p)), p.stat().st_size, T0)
             for p in (bomb, small, big, odd)]
    opened: list[str] = []

    def opener(path: str) -> io.BufferedReader:
        opened.append(path)
        return open_landing(path)

    limits = FileLimits(max_file_bytes=65536, max_decompressed_bytes=1 << 20)
    reasons = screen(files, limits, opener)

    assert {Path(p).name: r for p, r in reasons.items()} == {
        "bomb.json.gz": "gzip inflates past ingest.max_decompressed_bytes (1048576 bytes)",
        "big.json": "file is larger than ingest.max_file_bytes (65536 bytes)",
        "x.json.bz2": "compressed as .bz2, not gzip, the only compression AWS delivers",
    }
    assert opened == [files[0].path]  # the small gzip is cleared by its size alone


def test_a_file_is_new_again_when_its_content_changes() -> None:
    local = LandingFile("file:/l/a.json", 10, T0)
    s3 = LandingFile("s3a://b/a.json", 10, T0, etag="e1")
    done = {local.path: [(10, T0.replace(tzinfo=None), None)],
            s3.path: [(10, datetime(2026, 1, 1), "e1")]}
    same_content_put_again = LandingFile(s3.path, 10, datetime(2026, 12, 1, tzinfo=UTC),
                                         etag="e1")
    listed = [local, LandingFile(local.path, 10, T0.replace(minute=5)), s3,
              same_content_put_again, LandingFile(s3.path, 11, T0, etag="e2"),
              LandingFile("s3a://b/new.json", 1, T0, etag="e3")]
    fresh, again = new_files(listed, done)
    assert [(f.path, f.size, f.etag) for f in fresh] == [
        (local.path, 10, None), (s3.path, 11, "e2"), ("s3a://b/new.json", 1, "e3")]
    assert again == {local.path, s3.path}
    # a manifest row written before ETags were recorded matches on size and time
    assert LandingFile(s3.path, 10, T0, etag="e1").same_version(10, T0, None)
    assert file_version(fresh[1]) == "e2"
    assert file_version(fresh[0]) == "10@2026-11-20T10:05:00+00:00"
