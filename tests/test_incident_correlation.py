"""Correlating alerts into incidents on tiny frames: grouping through who owns what within the
window (driver-side union-find), stable ids and escalating severity; then the miniature attack end
to end: one incident with its scope, the instances' pool lookups, its activity and exact plan, the
unrelated alert apart, the responder's calls marking it fixed and an unchanged rerun writing
nothing; and the settings that set the window."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import SparkSession

from jobs.enrich.asn import load_asn_ranges
from jobs.incidents import graph
from jobs.incidents.correlate import correlate
from jobs.incidents.evidence import Sources, pool_names
from jobs.incidents.settings import Settings
from tests.support import incident_fixtures as fx
from tests.support.incident_frames import dns_frame, frames

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ranges(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("asn") / "ipv4.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(
            "start_ip,end_ip,asn,as_org\n167.99.0.0,167.99.255.255,14061,DIGITALOCEAN-ASN\n"
            "141.94.0.0,141.95.255.255,16276,OVH SAS\n"
        )
    return load_asn_ranges(spark, str(path), [14061, 16276]).cache()


def sources(spark: SparkSession, ranges, with_remediation: bool = False) -> Sources:
    """The miniature attack's frames, its Resolver queries and a small pool list."""
    alerts, ct, flows = frames(spark, with_remediation)
    return Sources(alerts, ct, flows, ranges, dns_frame(spark), pool_names(fx.POOL_INTEL))


@pytest.fixture(scope="module")
def first_run(spark: SparkSession, ranges) -> list[dict]:
    return correlate(sources(spark, ranges), [], Settings(), run_id="run-1", now=NOW)


def by_detection(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if name in r["detection_names"])


# --- grouping (driver-side union-find) ------------------------------------------------------------


def _alert(aid: str, minute: float, entities: list[tuple[str, str]], **kw) -> graph.Alert:
    t = fx.at(minute)
    return graph.Alert(
        aid, "d", "t", kw.pop("severity", "high"), t, t, t, t, entities=tuple(entities), **kw
    )


def test_group_alerts_joins_through_owners_and_respects_the_window() -> None:
    owners = {("instance", "i-1"): {("access_key", fx.KEY)}}
    alerts = [
        _alert("a", 0, [("access_key", fx.KEY)]),
        _alert("b", 30, [("instance", "i-1")]),  # linked through who launched i-1
        _alert("c", 60 * 24, [("access_key", fx.KEY)]),  # same key, a day later: a new incident
        _alert(
            "d", 1, [("user", fx.ROOT), ("account", fx.ACCOUNT)]
        ),  # root ARN and account never link
    ]
    groups = graph.group_alerts(alerts, owners, timedelta(hours=6))
    assert [g.alert_ids for g in groups] == [["a", "b"], ["d"], ["c"]]


def test_incident_ids_are_stable_and_merges_keep_the_oldest() -> None:
    a, b = _alert("a", 0, [("access_key", fx.KEY)]), _alert("b", 5, [("access_key", fx.KEY)])
    [group] = graph.group_alerts([a, b], {}, timedelta(hours=1))
    fresh = graph.assign_ids([group], {})[0][0]
    assert fresh == graph.assign_ids(graph.group_alerts([b, a], {}, timedelta(hours=1)), {})[0][0]
    assert fresh.startswith("INC-20261120-")
    old = {
        "a": ("INC-20261120-aaaaaaaaaa", NOW - timedelta(days=2)),
        "b": ("INC-20261120-bbbbbbbbbb", NOW),
    }
    assert graph.assign_ids([group], old)[0][0::2] == (
        "INC-20261120-aaaaaaaaaa",
        ["INC-20261120-bbbbbbbbbb"],
    )


def test_severity_escalates_a_chain_across_tactics() -> None:
    alerts = [
        _alert("a", 0, [], mitre_tactics=("TA0001",)),
        _alert("b", 0, [], mitre_tactics=("TA0040", "TA0011")),
    ]
    assert graph.severity_of(alerts) == "critical"
    assert graph.severity_of(alerts[:1]) == "high"


# --- correlation end to end on tiny frames --------------------------------------------------------


def test_the_chain_is_one_incident_with_its_scope(first_run: list[dict]) -> None:
    incident = by_detection(first_run, "mining_pool_traffic")
    assert sorted(incident["alert_ids"]) == ["a-mining", "a-root"]
    assert incident["severity"] == "critical" and incident["status"] == "open"
    assert incident["access_key_id"] == fx.KEY and incident["principal_arn"] == fx.ROOT
    assert incident["started_at"] == fx.T0 and incident["alert_time"] == fx.T0
    s = incident["scope"]
    assert s["key_previous_seen"] == fx.T0 - timedelta(days=5) and s["dormant_days"] == 5.0
    assert [i["instance_id"] for i in s["instances"]] == sorted(fx.INSTANCES)
    assert sorted(e for i in s["instances"] for e in i["eni_ids"]) == sorted(fx.ENIS)
    assert [(g["group_id"], g["created"]) for g in s["security_groups"]] == [(fx.GROUP, True)]
    assert [(r["rule_id"], r["from_port"]) for r in s["ingress_rules"]] == [(fx.RULE, 22)]
    assert [(p["key_name"], p["key_pair_id"]) for p in s["key_pairs"]] == [
        (fx.KEY_NAME, fx.KEY_PAIR_ID)
    ]
    assert [(x["ip"], x["asn"], x["is_hosting"], x["seen_in"]) for x in s["source_ips"]] == [
        (fx.ATTACKER, 14061, True, "cloudtrail+vpc_flows")
    ]
    outbound = [
        (d["ip"], d["port"], d["bytes"], d["as_org"])
        for d in s["destinations"]
        if d["direction"] == "outbound"
    ]
    assert outbound == [(fx.POOL, 7777, 12_000_000, "OVH SAS")]
    assert [(d["ip"], d["port"]) for d in s["destinations"] if d["direction"] == "inbound"] == [
        (fx.ATTACKER, 22)
    ]
    assert s["accounts"] == [fx.ACCOUNT] and s["regions"] == [fx.REGION]


def test_dns_lookups_of_the_instances_name_the_pool_and_the_address_they_reached(
    first_run: list[dict],
) -> None:
    incident = by_detection(first_run, "mining_pool_traffic")
    got = [
        (x["instance_id"], x["query_name"], x["query_type"], x["answers"], x["pool_names"],
         x["connected_ips"], x["lookups"], x["first_seen"], x["last_seen"])
        for x in incident["dns_lookups"]
    ]
    a_pool, cname = [f"A {fx.POOL}"], ["CNAME xmr-eu1.nanopool.org.", f"A {fx.POOL}"]
    hostile = fx.HOSTILE.lower() + ".supportxmr.com"
    assert got == [
        (fx.INSTANCES[0], "pool.supportxmr.com.", "A", a_pool, ["pool.supportxmr.com"],
         [fx.POOL], 2, fx.at(7), fx.at(20)),
        (fx.INSTANCES[1], fx.CDN_ALIAS, "A", cname, ["xmr-eu1.nanopool.org"], [fx.POOL], 1,
         fx.at(7.5), fx.at(7.5)),
        (fx.INSTANCES[0], "pool.supportxmr.com.", "AAAA", [], ["pool.supportxmr.com"], [], 1,
         fx.at(7), fx.at(7)),
        (fx.INSTANCES[1], fx.HOSTILE + ".supportxmr.com.", "A", ["A 198.51.100.9"], [hostile],
         [], 1, fx.at(7.6), fx.at(7.6)),
    ]  # not the look-alike, another instance's or another account's lookups
    assert incident["dns_lookups_total"] == 5
    other = by_detection(first_run, "new_sdk_for_principal")
    assert (other["dns_lookups"], other["dns_lookups_total"]) == ([], 0)


def test_activity_lists_every_changing_call_once_per_name(first_run: list[dict]) -> None:
    activity = {
        a["event_name"]: a for a in by_detection(first_run, "mining_pool_traffic")["activity"]
    }
    assert sorted(activity) == [
        "AuthorizeSecurityGroupIngress",
        "CreateSecurityGroup",
        "CreateTags",
        "ImportKeyPair",
        "RunInstances",
    ]  # no Describe*/Get*, no other key
    run = activity["RunInstances"]
    assert (run["calls"], run["errors"], run["error_codes"]) == (
        2,
        1,
        ["Client.InstanceLimitExceeded"],
    )
    assert run["source_ips"] == [fx.ATTACKER] and run["user_agents"] == [fx.UA]


def test_the_plan_names_exactly_the_resources(first_run: list[dict]) -> None:
    plan = by_detection(first_run, "mining_pool_traffic")["remediation"]
    assert [(a["action"], a["resource_id"]) for a in plan] == [
        ("deactivate_access_key", fx.KEY),
        ("delete_access_key", fx.KEY),
        *[("terminate_instance", i) for i in sorted(fx.INSTANCES)],
        ("revoke_ingress", fx.GROUP),
        ("delete_security_group", fx.GROUP),
        ("delete_key_pair", fx.KEY_NAME),
    ]
    root_steps = plan[0]
    assert root_steps["command"] is None and any(fx.KEY in s for s in root_steps["console_steps"])
    assert (
        plan[2]["command"]
        == "aws ec2 terminate-instances --region us-east-1 --instance-ids "
        + sorted(fx.INSTANCES)[0]
    )
    assert plan[4]["command"].endswith(f"--group-id {fx.GROUP} --security-group-rule-ids {fx.RULE}")
    assert plan[6]["command"].endswith(f"--key-pair-id {fx.KEY_PAIR_ID}")  # the id: names return
    assert [a["step"] for a in plan] == list(range(1, 8))


def test_the_unrelated_alert_is_its_own_incident(first_run: list[dict]) -> None:
    other = by_detection(first_run, "new_sdk_for_principal")
    assert other["alert_ids"] == ["a-other"] and other["scope"]["instances"] == []
    assert [(a["action"], a["resource_id"]) for a in other["remediation"]] == [
        ("deactivate_access_key", fx.OTHER_KEY),
        ("delete_access_key", fx.OTHER_KEY),
        ("delete_security_group", "sg-0ffffffffffffffff"),  # the group that key created
    ]
    assert other["remediation"][0]["command"] == (  # the user name comes from the principal ARN
        "aws iam update-access-key --user-name dev --access-key-id "
        f"{fx.OTHER_KEY} --status Inactive"
    )


def test_remediation_calls_mark_the_incident_fixed(
    spark: SparkSession, ranges, first_run: list[dict]
) -> None:
    rows = correlate(
        sources(spark, ranges, with_remediation=True),
        first_run,
        Settings(),
        run_id="run-2",
        now=NOW + timedelta(hours=1),
    )
    incident = by_detection(rows, "mining_pool_traffic")
    assert incident["incident_id"] == by_detection(first_run, "mining_pool_traffic")["incident_id"]
    assert (
        incident["status"] == "fixed" and incident["actions_done"] == incident["actions_total"] == 7
    )
    assert incident["fixed_at"] == fx.at(47)  # DeleteKeyPair, the last action
    delete_group = next(
        a for a in incident["remediation"] if a["action"] == "delete_security_group"
    )
    assert delete_group["done_at"] == fx.at(46)  # the successful retry, not the DependencyViolation
    assert incident["created_at"] == NOW  # carried over
    assert all(r["incident_id"] != incident["incident_id"] or r is incident for r in rows)


def test_an_unchanged_rerun_writes_nothing(
    spark: SparkSession, ranges, first_run: list[dict]
) -> None:
    assert (
        correlate(
            sources(spark, ranges),
            first_run,
            Settings(),
            run_id="run-3",
            now=NOW + timedelta(hours=2),
        )
        == []
    )


# --- settings -------------------------------------------------------------------------------------


def test_settings_read_durations_from_conf() -> None:
    s = Settings.of({"incidents": {"window": "2 hours", "history_days": 10}})
    assert s.window == timedelta(hours=2) and s.history_days == 10 and s.tail == timedelta(hours=24)
