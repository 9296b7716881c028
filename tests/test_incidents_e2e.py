"""End to end on the sample: generate -> ingest -> detect -> incidents; then the responder's
clean-up lands and the next run marks the incident fixed. The sample's runs are shared with
test_detect_job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from devtools.sample.attack import BOOT_SECONDS
from devtools.sample.cli import ATTACK
from devtools.sample.dnslogs import POOL_DOMAIN
from jobs.commands.incidents import list_lines, read_incidents, show_lines
from jobs.enrich import Enrichment
from jobs.incidents import store
from jobs.incidents.run import run_incidents
from jobs.lakehouse import ALERTS, INCIDENT_RUNS, INCIDENTS, RESPONSE_METRICS
from tests.support.sample_lake import LATE_RUN, SampleLake

LAST_CLEANUP_CALL = ATTACK.remediation_start + timedelta(seconds=350)  # DeleteKeyPair


def _attack(incidents: list[dict[str, Any]]) -> dict[str, Any]:
    [found] = [i for i in incidents if ATTACK.access_key_id in (i["scope"]["access_keys"] or [])]
    return found


@pytest.fixture(scope="module")
def runs(spark: SparkSession, sample_lake: SampleLake) -> dict[str, Any]:
    """The shared sample before and after the clean-up calls land
    (``tests/support/sample_lake.py``)."""
    lake = sample_lake.stage2()
    alerts = [
        r.asDict(recursive=True)
        for r in spark.read.format("delta")
        .load(ALERTS.path(lake.conf["lakehouse"]))
        .collect()
    ]
    return {"conf": lake.conf, "first": lake.first, "second": lake.second, "alerts": alerts}


def test_the_mission_is_one_critical_incident_with_exact_scope(runs: dict[str, Any]) -> None:
    incident = _attack(runs["first"].incidents)
    s = incident["scope"]
    assert incident["severity"] == "critical" and incident["status"] == "open"
    assert incident["access_key_id"] == ATTACK.access_key_id
    assert incident["started_at"] == ATTACK.recon
    assert sorted(i["instance_id"] for i in s["instances"]) == sorted(ATTACK.instance_ids)
    assert {i["instance_type"] for i in s["instances"]} == {ATTACK.instance_type}
    by_instance = {i["instance_id"]: (i["eni_ids"], i["private_ips"]) for i in s["instances"]}
    assert by_instance == {
        i: ([e], [p])
        for i, e, p in zip(ATTACK.instance_ids, ATTACK.eni_ids, ATTACK.private_ips, strict=True)
    }
    assert [(g["group_id"], g["created"]) for g in s["security_groups"]] == [
        (ATTACK.security_group_id, True)
    ]
    assert [(p["key_name"], p["key_pair_id"]) for p in s["key_pairs"]] == [
        (ATTACK.key_name, ATTACK.key_pair_id)
    ]
    assert [x["ip"] for x in s["source_ips"]] == [ATTACK.attacker_ip]
    assert [(d["ip"], d["port"]) for d in s["destinations"] if d["direction"] == "outbound"] == [
        (ATTACK.pool_ip, ATTACK.pool_port)
    ]
    assert s["accounts"] == [ATTACK.account_id] and s["regions"] == [ATTACK.region]
    assert "guardduty_high_risk_finding" in incident["detection_names"]
    mining = {a["alert_id"] for a in runs["alerts"] if a["detection_name"] == "mining_pool_traffic"}
    assert mining <= set(
        incident["alert_ids"]
    )  # flow alerts on the miners join through the instances


def test_the_mission_report_shows_the_pool_lookups_and_the_address_they_reached(
    sample_lake: SampleLake,
) -> None:
    lake = sample_lake.stage1()
    incident = _attack(lake.first.incidents)
    iid = incident["incident_id"]
    assert {"mining_pool_lookup", "dns_resolved_pool_traffic"} <= set(incident["detection_names"])
    booted = ATTACK.run_instances + timedelta(seconds=BOOT_SECONDS)
    name = f"{POOL_DOMAIN}."
    # Each miner asked for A then AAAA: the ten A lookups, each followed by mining traffic to the
    # answer, come first; the ten empty AAAA lookups are counted, not shown.
    assert [
        (x["instance_id"], x["query_name"], x["query_type"], x["rcode"], x["answers"],
         x["pool_names"], x["connected_ips"], x["lookups"], x["first_seen"])
        for x in incident["dns_lookups"]
    ] == [
        (i, name, "A", "NOERROR", [f"A {ATTACK.pool_ip}"], [POOL_DOMAIN], [ATTACK.pool_ip], 1,
         booted + timedelta(seconds=n))
        for n, i in enumerate(ATTACK.instance_ids)
    ]
    assert incident["dns_lookups_total"] == 20
    shown = "\n".join(show_lines(read_incidents(lake.conf), iid, False, lake.conf))
    markdown = (Path(lake.conf["lakehouse"]) / "reports" / f"{iid}.md").read_text()
    for text in (shown, markdown):
        section = text[text.index("## DNS lookups") : text.index("## Principal activity")]
        first = booted.strftime("%Y-%m-%d %H:%M:%S UTC")
        assert (f"| {first} | {first} | 1 | {ATTACK.instance_ids[0]} | {name} | A | NOERROR | "
                f"A {ATTACK.pool_ip} | {POOL_DOMAIN} | {ATTACK.pool_ip} |") in section
        assert section.count(f"| {name} | A | NOERROR |") == 10
        assert "Showing 10 of 20 lookups (10 more not shown)." in section
    page = (Path(lake.conf["lakehouse"]) / "reports" / f"{iid}.html").read_text()
    section = page[page.index('<h2 id="dns">') : page.index("<h2>Principal activity")]
    assert section.count(
        f"<td>{name}</td><td>A</td><td>NOERROR</td><td>A {ATTACK.pool_ip}</td>"
        f"<td>{POOL_DOMAIN}</td><td>{ATTACK.pool_ip}</td></tr>"
    ) == 10


def test_the_plan_removes_exactly_the_attackers_resources(runs: dict[str, Any]) -> None:
    plan = _attack(runs["first"].incidents)["remediation"]
    actions = [(a["action"], a["resource_id"]) for a in plan]
    assert actions == [
        ("deactivate_access_key", ATTACK.access_key_id),
        ("delete_access_key", ATTACK.access_key_id),
        *[("terminate_instance", i) for i in sorted(ATTACK.instance_ids)],
        ("revoke_ingress", ATTACK.security_group_id),
        ("delete_security_group", ATTACK.security_group_id),
        ("delete_key_pair", ATTACK.key_name),
    ]
    assert plan[0]["command"] is None and plan[0]["console_steps"]  # root key: console only


def test_the_cleanup_marks_the_incident_fixed(runs: dict[str, Any]) -> None:
    before, after = _attack(runs["first"].incidents), _attack(runs["second"].incidents)
    assert after["incident_id"] == before["incident_id"]
    assert after["status"] == "fixed" and after["actions_done"] == after["actions_total"] == 15
    assert after["fixed_at"] == LAST_CLEANUP_CALL
    assert after["alert_time"] == ATTACK.recon  # root_access_key_used fires on the first call
    assert after["fixed_at"] - after["alert_time"] == timedelta(minutes=62, seconds=33)
    responder_login = {
        a["alert_id"] for a in runs["alerts"] if a["detection_name"] == "root_console_login"
    }
    assert not responder_login & set(after["alert_ids"])  # the responder is not the attacker


def test_metrics_and_reports_are_written(spark: SparkSession, runs: dict[str, Any]) -> None:
    conf, incident = runs["conf"], _attack(runs["second"].incidents)
    metrics = RESPONSE_METRICS.read(spark, conf["lakehouse"])
    critical = metrics.where(f"run_id = '{LATE_RUN}' AND severity = 'critical'").first()
    assert critical["fixed"] == 1 and critical["alert_to_fix_p50_s"] == 62 * 60 + 33
    assert incident["incident_id"] in critical["over_target"]
    report = Path(conf["lakehouse"]) / "reports" / f"{incident['incident_id']}.html"
    assert runs["second"].reports[incident["incident_id"]] == str(report)
    text = report.read_text()
    assert all(i in text for i in ATTACK.instance_ids) and "over the 30-minute target" in text
    assert (report.parent / f"{incident['incident_id']}.md").is_file()


def test_ack_resolve_and_list(spark: SparkSession, runs: dict[str, Any]) -> None:
    conf = runs["conf"]
    attack = _attack(runs["second"].incidents)["incident_id"]
    others = [i["incident_id"] for i in runs["second"].incidents if i["incident_id"] != attack]
    now = datetime(2026, 11, 21, tzinfo=UTC)
    store.set_status(spark, conf["lakehouse"], attack, "acknowledged", "alice", None, now)
    [row] = store.load_incidents(spark, conf["lakehouse"], attack)
    assert (row["status"], row["acknowledged_by"]) == ("fixed", "alice")  # ack never downgrades
    if others:
        store.set_status(
            spark, conf["lakehouse"], others[0], "resolved", "bob", "benign scanner", now
        )
        assert store.load_incidents(spark, conf["lakehouse"], others[0])[0]["status"] == "resolved"
    lines = list_lines(store.load_incidents(spark, conf["lakehouse"]), None)
    assert lines[0].startswith("INCIDENT") and any(attack in line for line in lines[1:])
    with pytest.raises(ValueError):
        store.set_status(
            spark, conf["lakehouse"], "INC-19990101-0000000000", "resolved", "x", None, now
        )


def test_a_run_over_unchanged_inputs_writes_nothing(
    spark: SparkSession, runs: dict[str, Any], enrichment: Enrichment
) -> None:
    conf, second = runs["conf"], runs["second"]
    live = [i for i in second.incidents if i["status"] != "merged"]
    assert second.rewritten == second.written < len(live)  # one report per changed incident
    path = INCIDENTS.path(conf["lakehouse"])
    before = DeltaTable.forPath(spark, path).history(1).first()["version"]
    recorded = INCIDENT_RUNS.read(spark, conf["lakehouse"]).count()
    again = run_incidents(spark, conf, "run-unchanged", enrichment)
    assert again.unchanged_inputs and (again.written, again.rewritten) == (0, 0)
    assert sorted(i["incident_id"] for i in again.incidents) == sorted(
        i["incident_id"] for i in second.incidents
    )
    assert DeltaTable.forPath(spark, path).history(1).first()["version"] == before
    assert INCIDENT_RUNS.read(spark, conf["lakehouse"]).count() == recorded
    assert "inputs unchanged since the last run" in again.lines()[0]
