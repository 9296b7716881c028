"""Route 53 Resolver query logs: files as AWS delivers them to S3, parsed, checked, ingested.

One landing zone with good, duplicated, malformed and check-failing lines and an empty file;
the parser's rows and reasons, the ingest job's exact accounting and quarantine, the typed silver
rows and the view columns, and reruns that add nothing.
"""

from __future__ import annotations

import copy
import gzip
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import lakehouse
from jobs.ingest.landing import classify, local_uri
from jobs.ingest.run import Accounting, run_ingest
from jobs.runtime.config import load_config
from jobs.sources import DNS, SOURCES
from jobs.sources.dns import with_dns_extras

ACCOUNT = "111122223333"
VPC = "vpc-0a4ba42854c7ffc2a"
DIR = f"AWSLogs/{ACCOUNT}/vpcdnsquerylogs/{VPC}/2026/11/20"
GOOD = f"{DIR}/{ACCOUNT}_vpcdnsquerylogs_{VPC}_20261120T1410Z_8b0c3c5b.log.gz"
MIXED = f"{DIR}/{ACCOUNT}_vpcdnsquerylogs_{VPC}_20261120T1415Z_5e2d0a71.log.gz"
EMPTY = f"{DIR}/{ACCOUNT}_vpcdnsquerylogs_{VPC}_20261120T1420Z_0f0f0f0f.log.gz"
NOW = datetime(2026, 11, 21, tzinfo=UTC)


def query(n: int, **overrides: Any) -> dict[str, Any]:
    """A query-log record as the resolver writes it (field order as in AWS's example)."""
    base = {
        "version": "1.100000", "account_id": ACCOUNT, "region": "us-east-1", "vpc_id": VPC,
        "query_timestamp": f"2026-11-20T14:{n:02d}:31Z", "query_name": "pool.supportxmr.com.",
        "query_type": "A", "query_class": "IN", "rcode": "NOERROR",
        "answers": [{"Rdata": "141.94.96.144", "Type": "A", "Class": "IN"}],
        "srcaddr": "172.31.35.149", "srcport": str(40000 + n), "transport": "UDP",
        "srcids": {"instance": "i-0efc93fe5098a9e3d"},
    }
    return {**copy.deepcopy(base), **overrides}


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


GOOD_RECORDS = [
    query(0),
    query(1, query_name="Updates.Example-CDN.net.", answers=[
        {"Rdata": "edge.example-cdn.net.", "Type": "CNAME", "Class": "IN"},
        {"Rdata": "xmr-eu1.nanopool.org.", "Type": "CNAME", "Class": "IN"},
        {"Rdata": "51.15.54.102", "Type": "A", "Class": "IN"},
    ]),
    query(2, query_name="no-such-host.internal.", rcode="NXDOMAIN", answers=[]),
    query(3, query_name="ec2.us-east-1.amazonaws.com.", query_type="AAAA", answers=[
        {"Rdata": "2600:1f18:4c00:1::1", "Type": "AAAA", "Class": "IN"}],
        srcaddr="10.16.0.7", srcport="53211", transport="TCP",
        srcids={"resolver_endpoint": "rslvr-in-0123456789abcdef0"}),
    query(4, query_name="eth-eu1.nanopool.org.", answers=[], firewall_rule_action="BLOCK",
          firewall_rule_group_id="rslvr-frg-01234567890abcdef",
          firewall_domain_list_id="rslvr-fdl-01234567890abcdef"),
]
# (line, why the parser rejects it or None); after the parser, three lines fail checks.
MIXED_LINES: list[tuple[str, str | None]] = [
    (_line(query(9))[:70], "record is not valid JSON"),  # a truncated first line
    (_line(GOOD_RECORDS[0]), None),  # the same query delivered again
    ("[1, 2]", "record is not a JSON object"),
    (_line({k: v for k, v in query(6).items() if k != "query_timestamp"}),
     "missing query_timestamp"),
    (_line(query(7, query_timestamp="yesterday")), "query_timestamp does not parse"),
    (_line(query(8, srcport="99999")), "srcport out of range"),
    (_line(query(10, srcport="ephemeral")), "srcport is not a number"),
    (_line({k: v for k, v in query(11).items() if k != "query_name"}), "missing query_name"),
    (_line(query(5)), None),
    (_line(query(12, query_name="pool supportxmr.com.")), None),  # dq:query_name_is_a_dns_name
    (_line(query(13, query_timestamp="2099-01-01T00:00:00Z")), None),  # past the time bounds
    (_line(query(14, answers=[{"Type": "A", "Class": "IN"}])), None),  # dq:answers_have_data
]


def write_dns_landing(root: Path) -> None:
    """The landing zone: a good file, a mixed file (with a blank line) and an empty gzip."""
    for rel, text in (
        (GOOD, "\n".join(_line(r) for r in GOOD_RECORDS) + "\n"),
        (MIXED, "\n".join(line for line, _ in MIXED_LINES[:5]) + "\n\n"
         + "\n".join(line for line, _ in MIXED_LINES[5:]) + "\n"),
        (EMPTY, ""),
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(text.encode(), mtime=0))


@pytest.fixture(scope="module")
def landed(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("dns")
    write_dns_landing(tmp / "landing")
    conf = load_config("test", [f"landing={tmp / 'landing'}", f"lakehouse={tmp / 'lake'}"])
    return conf, {a.source: a for a in run_ingest(spark, conf, "run-1")}


def test_the_delivery_layout_belongs_to_the_dns_source() -> None:
    assert classify(f"s3a://logs/{GOOD}", SOURCES) == "dns"
    assert classify(f"s3a://logs/prefix/{MIXED}", SOURCES) == "dns"
    flows = f"s3a://logs/AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/11/20/x.log.gz"
    assert classify(flows, SOURCES) == "vpcflow"


def test_parser_types_every_line_and_names_each_bad_one(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    paths = [local_uri(str(Path(conf["landing"]) / rel)) for rel in (GOOD, MIXED, EMPTY)]
    rows = DNS.parse(spark, paths, 4096, "run-p", F.lit(NOW)).collect()
    got = sorted(((Path(r.source_file).name, r.record_index, r.reason) for r in rows),
                 key=lambda x: (x[0], x[1] or 0))
    mixed_indexes = list(range(1, 6)) + list(range(7, 14))  # line 6 is blank
    assert got == sorted(
        [(Path(GOOD).name, i + 1, None) for i in range(5)]
        + [(Path(MIXED).name, i, why)
           for i, (_, why) in zip(mixed_indexes, MIXED_LINES, strict=True)]
        + [(Path(EMPTY).name, None, "empty file")],
        key=lambda x: (x[0], x[1] or 0),
    )
    bad = [r for r in rows if r.reason is not None]
    assert all(r.record is not None and r.record_json is not None for r in bad if r.record_index)
    assert all(r.record is None for r in rows if r.reason is None)


def test_accounting_is_exact(landed: tuple[dict, dict]) -> None:
    _, first = landed
    assert first == {"dns": Accounting("dns", files=3, files_skipped=0, records_read=18,
                                       rows_written=6, duplicates=1, quarantined=11)}
    assert first["dns"].balanced()


def test_every_bad_line_is_quarantined_with_its_reason(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    rows = spark.read.format("delta").load(lakehouse.QUARANTINE.path(conf["lakehouse"])).collect()
    got = sorted((r.source, Path(r.source_file).name, r.record_index or 0, r.reason) for r in rows)
    mixed = Path(MIXED).name
    assert got == sorted(
        [("dns", mixed, i, why) for i, why in zip([1, 3, 4, 5, 7, 8, 9],
                                                 [w for _, w in MIXED_LINES if w], strict=True)]
        + [("dns", mixed, 11, "dq:query_name_is_a_dns_name"),
           ("dns", mixed, 12, "query_time is more than 1 day after the run started"),
           ("dns", mixed, 13, "dq:answers_have_data"),
           ("dns", Path(EMPTY).name, 0, "empty file")]
    )
    truncated = next(r for r in rows if r.record_index == 1)
    assert truncated.raw == MIXED_LINES[0][0]


def test_silver_rows_are_typed_and_keyed_on_the_record(
    spark: SparkSession, landed: tuple[dict, dict]
) -> None:
    conf, _ = landed
    silver = spark.read.format("delta").load(DNS.table.path(conf["lakehouse"]))
    rows = {r.srcport: r for r in silver.collect()}
    assert sorted(rows) == [40000, 40001, 40002, 40004, 40005, 53211]
    assert len({r.query_id for r in rows.values()}) == 6
    first = rows[40000]
    assert (first.query_time, first.event_date, first.instance_id, first.transport) == (
        datetime(2026, 11, 20, 14, 0, 31), date(2026, 11, 20), "i-0efc93fe5098a9e3d", "UDP")
    assert [tuple(a) for a in rows[40001].answers] == [
        ("edge.example-cdn.net.", "CNAME", "IN"), ("xmr-eu1.nanopool.org.", "CNAME", "IN"),
        ("51.15.54.102", "A", "IN")]
    assert (rows[40002].rcode, rows[40002].answers) == ("NXDOMAIN", [])
    endpoint = rows[53211]
    assert (endpoint.instance_id, endpoint.resolver_endpoint_id) == (
        None, "rslvr-in-0123456789abcdef0")
    blocked = rows[40004]
    assert (blocked.firewall_rule_action, blocked.firewall_domain_list_id) == (
        "BLOCK", "rslvr-fdl-01234567890abcdef")
    assert json.loads(first.record_json) == GOOD_RECORDS[0]
    assert first.source_file.endswith(GOOD) and first.record_index == 1
    view = {r.srcport: r for r in with_dns_extras(silver).collect()}
    assert (view[40001].query_domain, view[40001].answer_names, view[40001].answer_ips) == (
        "updates.example-cdn.net", ["edge.example-cdn.net", "xmr-eu1.nanopool.org"],
        ["51.15.54.102"])
    assert (view[53211].answer_names, view[53211].answer_ips) == ([], ["2600:1f18:4c00:1::1"])


def test_rerun_and_redelivery_add_nothing(spark: SparkSession, landed: tuple[dict, dict]) -> None:
    conf, _ = landed
    tables = (DNS.table, lakehouse.QUARANTINE)

    def counts() -> dict[str, int]:
        return {t.name: spark.read.format("delta").load(t.path(conf["lakehouse"])).count()
                for t in tables}

    before = counts()
    assert run_ingest(spark, conf, "run-2") == []
    again = Path(conf["landing"]) / GOOD.replace("8b0c3c5b", "redelivered")
    shutil.copy(Path(conf["landing"]) / GOOD, again)
    (redelivered,) = run_ingest(spark, conf, "run-3")
    assert redelivered == Accounting("dns", files=1, records_read=5, duplicates=5)
    assert counts() == before == {DNS.table.name: 6, lakehouse.QUARANTINE.name: 11}
