"""A seeded fuzzer over the ingest job: 1,040 mutated delivery files across the four sources
(truncations, bit flips, garbage, wrong types, huge and deeply nested values, invalid UTF-8,
extreme times) plus a gzip bomb and an oversized file, ingested in one in-process run.

The run must finish, every file must be in the manifest with its own balanced accounting that
matches the rows it left in silver and quarantine, every record of an untouched file and every
untouched record of a file with one mutated record must land, every deeply nested line is
quarantined as nested too deep, and a rerun adds nothing.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from jobs import lakehouse
from jobs.ingest.landing import local_uri
from jobs.ingest.run import run_ingest
from jobs.runtime.config import load_config
from jobs.sources import SOURCES
from tests.support.landing_fixtures import ACCOUNT, V2_HEADER, event, finding

pytestmark = pytest.mark.extended  # CI only: TRAILWARDEN_EXTENDED=1 (tests/conftest.py)

SEED = 20261207
FILES_PER_SOURCE = 260
RECORDS_PER_FILE = 3
DAY = "2026/11/20"
VPC = "vpc-0fz"
LIMITS = {"ingest.max_file_bytes": 1 << 20, "ingest.max_decompressed_bytes": 8 << 20}
EXTREME_TIMES = ["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "+10000-01-01T00:00:00Z",
                 "0001-01-01T00:00:00Z", "2026-11-20T10:00:00+99:00", "1e308"]
EXTREME_EPOCHS = ["0", "253402300800", "1000000000000000", "-5", "9223372036854775807",
                  "99999999999999999999"]
WRONG_TYPES: list[Any] = [12345, -1.5e300, ["x", 1], {"a": {"b": None}}, True, None, ""]
FLOW_TOKENS = ["abc", "1e9", "-3", "99999999999999999999", "0x1f", "\u00e9"]


@dataclass
class Source:
    """How the fuzzer writes one source: records, their key, a file's bytes and path."""

    name: str
    make: Callable[[int, int], dict[str, Any]]
    key: Callable[[dict[str, Any]], str]
    key_column: str
    encode: Callable[[list[dict[str, Any]]], str]
    path: Callable[[int, str], str]
    lines: bool  # one record per line: a bad line spoils only itself
    fields: list[str] = field(default_factory=list)  # non-key fields a mutation may change
    times: list[str] = field(default_factory=list)


def _query(i: int, k: int) -> dict[str, Any]:
    return {"version": "1.100000", "account_id": ACCOUNT, "region": "us-east-1", "vpc_id": VPC,
            "query_timestamp": f"2026-11-20T14:{k:02d}:31Z",
            "query_name": f"fz-{i}-{k}.example.com.", "query_type": "A", "query_class": "IN",
            "rcode": "NOERROR", "answers": [{"Rdata": "192.0.2.1", "Type": "A", "Class": "IN"}],
            "srcaddr": "172.31.35.149", "srcport": "40000", "transport": "UDP",
            "srcids": {"instance": "i-0efc93fe5098a9e3d"}}


def _flow(i: int, k: int) -> dict[str, Any]:
    values = [2, ACCOUNT, f"eni-fz{i}x{k}", "172.31.1.9", "198.51.100.7", 40000 + k, 443, 6,
              10, 840, 1763632800, 1763632860, "ACCEPT", "OK"]
    return dict(zip(V2_HEADER.split(), (str(v) for v in values), strict=True))


SOURCE_SPECS = [
    Source("cloudtrail", lambda i, k: event(i * RECORDS_PER_FILE + k, eventID=f"fz-{i}-{k}"),
           lambda r: r["eventID"], "event_id",
           lambda rs: json.dumps({"Records": rs}),
           lambda i, ext: f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{DAY}/"
                          f"{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_fz{i:04d}.json{ext}",
           lines=False, fields=["eventName", "userIdentity", "userAgent", "sourceIPAddress",
                                "requestParameters", "readOnly", "awsRegion"],
           times=["eventTime"]),
    Source("guardduty", lambda i, k: finding(f"fz-{i}-{k}", "2026-11-20T14:20:00.000Z", k + 1),
           lambda r: r["id"], "finding_id",
           lambda rs: "\n".join(json.dumps(r) for r in rs) + "\n",
           lambda i, ext: f"AWSLogs/{ACCOUNT}/GuardDuty/us-east-1/{DAY}/fz{i:04d}.jsonl{ext}",
           lines=True, fields=["severity", "title", "resource", "service", "region"],
           times=["updatedAt", "createdAt"]),
    Source("dns", _query, lambda r: r["query_name"], "query_name",
           lambda rs: "\n".join(json.dumps(r) for r in rs) + "\n",
           lambda i, ext: f"AWSLogs/{ACCOUNT}/vpcdnsquerylogs/{VPC}/{DAY}/"
                          f"{ACCOUNT}_vpcdnsquerylogs_{VPC}_20261120T1000Z_fz{i:04d}.log{ext}",
           lines=True, fields=["srcport", "answers", "rcode", "transport", "srcids"],
           times=["query_timestamp"]),
    Source("vpcflow", _flow, lambda r: r["interface-id"], "interface_id",
           lambda rs: "\n".join([V2_HEADER] + [" ".join(r.values()) for r in rs]) + "\n",
           lambda i, ext: f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/{DAY}/"
                          f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-fz_20261120T1000Z_{i:04d}.log{ext}",
           lines=True, fields=["srcport", "dstport", "protocol", "packets", "bytes", "action"],
           times=["start", "end"]),
]


DEEP = "__deep__"  # replaced in a file's text by JSON nested 1,200 levels deep
DEEP_JSON = '[{"a":' * 600 + "1" + "}]" * 600


def _mutate_record(rng: random.Random, spec: Source, record: dict[str, Any]) -> str:
    """Change one record in place; return the kind of change."""
    kind = rng.choice(["wrong_type", "huge_value", "extreme_time"]
                      + (["deep_value"] if spec.lines and spec.name != "vpcflow" else []))
    if spec.name == "vpcflow":
        token = {"wrong_type": rng.choice(FLOW_TOKENS), "huge_value": "9" * 100_000,
                 "extreme_time": rng.choice(EXTREME_EPOCHS)}[kind]
        record[rng.choice(spec.times if kind == "extreme_time" else spec.fields)] = token
    elif kind == "extreme_time":
        record[rng.choice(spec.times)] = rng.choice(EXTREME_TIMES)
    else:
        record[rng.choice(spec.fields)] = {
            "wrong_type": lambda: rng.choice(WRONG_TYPES), "huge_value": lambda: "A" * 100_000,
            "deep_value": lambda: DEEP,
        }[kind]()
    return kind


def _mutate_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["truncate", "bit_flip", "garbage", "invalid_utf8", "empty"])
    if kind == "truncate":
        return kind, data[: rng.randrange(len(data))]
    if kind == "bit_flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "garbage":
        return kind, rng.randbytes(rng.randint(1, 2000))
    if kind == "invalid_utf8":
        at = rng.randrange(len(data))
        bad = rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00"])
        return kind, data[:at] + bad + data[at:]
    return kind, b""


@dataclass
class Fuzzed:
    """What the fuzzer wrote: every file's path, the records that must land, per source, and
    the lines nested past the limit (path, 1-based line)."""

    paths: set[str] = field(default_factory=set)
    must_land: dict[str, set[str]] = field(default_factory=dict)
    deep: set[tuple[str, int]] = field(default_factory=set)
    kinds: dict[str, int] = field(default_factory=dict)


def write_fuzzed_landing(root: Path, seed: int = SEED) -> Fuzzed:
    """Write ``FILES_PER_SOURCE`` files per source, each untouched, with one mutated record, or
    mutated as bytes (after compression for the gzip ones), plus a gzip bomb and an oversized
    file."""
    rng = random.Random(seed)
    out = Fuzzed()
    for spec in SOURCE_SPECS:
        land = out.must_land.setdefault(spec.name, set())
        for i in range(FILES_PER_SOURCE):
            records = [spec.make(i, k) for k in range(RECORDS_PER_FILE)]
            plan = rng.choices(["clean", "record", "bytes"], weights=[2, 4, 4])[0]
            kind = plan
            if plan == "record":
                hit = rng.randrange(RECORDS_PER_FILE)
                kind = _mutate_record(rng, spec, records[hit])
                if kind == "deep_value" and not spec.lines:
                    plan = "bytes"  # a Records file nested past the parser's limit fails whole
                land |= {spec.key(r) for n, r in enumerate(records) if n != hit}
            elif plan == "clean":
                land |= {spec.key(r) for r in records}
            gz = rng.random() < 0.7
            data = spec.encode(records).replace(f'"{DEEP}"', DEEP_JSON).encode()
            data = gzip.compress(data, mtime=0) if gz else data
            if plan == "bytes":
                kind, data = _mutate_bytes(rng, data)
            out.kinds[f"{spec.name}:{kind}"] = out.kinds.get(f"{spec.name}:{kind}", 0) + 1
            rel = spec.path(i, ".gz" if gz else "")
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
            out.paths.add(local_uri(str(root / rel)))
            if kind == "deep_value":
                out.deep.add((local_uri(str(root / rel)), hit + 1))
    ct_dir = root / f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{DAY}"
    member = gzip.compress(b"\0" * (1 << 20), mtime=0)
    (ct_dir / "bomb.json.gz").write_bytes(member * 64)  # 64 MiB in ~65 KB, 64 gzip members
    big = [dict(copy.deepcopy(event(0)), eventID=f"big-{n}") for n in range(2000)]
    (ct_dir / "oversized.json").write_bytes(json.dumps({"Records": big}).encode())
    out.paths |= {local_uri(str(ct_dir / n)) for n in ("bomb.json.gz", "oversized.json")}
    return out


@pytest.fixture(scope="module")
def fuzzed(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    tmp = tmp_path_factory.mktemp("fuzz")
    written = write_fuzzed_landing(tmp / "landing")
    conf = load_config("test", [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}"]
                       + [f"{k}={v}" for k, v in LIMITS.items()])
    accounting = run_ingest(spark, conf, "fuzz-1")
    return conf, written, accounting


def _table(spark: SparkSession, conf: dict[str, Any], table: Any) -> Any:
    return spark.read.format("delta").load(table.path(conf["lakehouse"]))


def test_the_fuzzer_writes_every_kind_of_damage(fuzzed: tuple[Any, ...]) -> None:
    _, written, _ = fuzzed
    assert len(written.paths) == 4 * FILES_PER_SOURCE + 2
    kinds = {k.split(":")[1] for k in written.kinds}
    assert kinds >= {"clean", "wrong_type", "huge_value", "extreme_time", "deep_value",
                     "truncate", "bit_flip", "garbage", "invalid_utf8", "empty"}


def test_every_file_is_in_the_manifest_with_exact_accounting(
    spark: SparkSession, fuzzed: tuple[Any, ...]
) -> None:
    conf, written, accounting = fuzzed
    assert all(a.balanced() for a in accounting)
    manifest = _table(spark, conf, lakehouse.INGESTED_FILES).collect()
    assert sorted(r.path for r in manifest) == sorted(written.paths)
    unbalanced = [r.path for r in manifest
                  if r.records_read != r.rows_written + r.duplicates + r.quarantined]
    assert unbalanced == []
    quarantined = {r[0]: r[1] for r in _table(spark, conf, lakehouse.QUARANTINE)
                   .groupBy("source_file").count().collect()}
    landed: dict[str, int] = {}
    for source in SOURCES:
        for r in _table(spark, conf, source.table).groupBy("source_file").count().collect():
            landed[r[0]] = r[1]
    assert {r.path: r.quarantined for r in manifest if r.quarantined} == quarantined
    assert {r.path: r.rows_written for r in manifest if r.rows_written} == landed
    totals = {a.source: a for a in accounting}
    assert sum(a.records_read for a in totals.values()) == sum(r.records_read for r in manifest)


def test_the_bomb_and_the_oversized_file_are_quarantined_unread(
    spark: SparkSession, fuzzed: tuple[Any, ...]
) -> None:
    conf, _, _ = fuzzed
    rows = {Path(r.path).name: (r.status, r.reason) for r in
            _table(spark, conf, lakehouse.INGESTED_FILES)
            .where("path LIKE '%bomb%' OR path LIKE '%oversized%'").collect()}
    assert rows == {
        "bomb.json.gz": ("quarantined",
                         "gzip inflates past ingest.max_decompressed_bytes (8388608 bytes)"),
        "oversized.json": ("quarantined",
                           "file is larger than ingest.max_file_bytes (1048576 bytes)"),
    }


def test_every_good_record_lands(spark: SparkSession, fuzzed: tuple[Any, ...]) -> None:
    conf, written, _ = fuzzed
    for spec in SOURCE_SPECS:
        source = next(s for s in SOURCES if s.name == spec.name)
        keys = {r[0] for r in _table(spark, conf, source.table).select(spec.key_column).collect()}
        missing = written.must_land[spec.name] - keys
        assert not missing, f"{spec.name}: {sorted(missing)[:5]}"
        assert len(written.must_land[spec.name]) > FILES_PER_SOURCE


def test_deeply_nested_lines_are_quarantined_as_such(
    spark: SparkSession, fuzzed: tuple[Any, ...]
) -> None:
    conf, written, _ = fuzzed
    rows = _table(spark, conf, lakehouse.QUARANTINE).where(
        "reason = 'nested deeper than 100 levels'").collect()
    assert {(r.source_file, r.record_index) for r in rows} == written.deep
    assert len(written.deep) > 10


def test_times_out_of_bounds_never_land(spark: SparkSession, fuzzed: tuple[Any, ...]) -> None:
    conf, _, _ = fuzzed
    for source in SOURCES:
        for column in source.time_columns:
            bad = _table(spark, conf, source.table).where(
                f"{column} < TIMESTAMP'{source.earliest_time}' OR year({column}) > 2026").count()
            assert bad == 0, f"{source.name}.{column}"


def test_rerun_adds_nothing(spark: SparkSession, fuzzed: tuple[Any, ...]) -> None:
    conf, _, _ = fuzzed
    before = {t.name: _table(spark, conf, t).count() for t in lakehouse.INGEST_TABLES}
    assert run_ingest(spark, conf, "fuzz-2") == []
    assert {t.name: _table(spark, conf, t).count() for t in lakehouse.INGEST_TABLES} == before
