"""Incidents on tiny frames: entity extraction, grouping, scope, plan, fix tracking, metrics."""

from __future__ import annotations

import gzip
import shlex
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import SparkSession

from jobs.enrich.asn import load_asn_ranges
from jobs.incidents import graph
from jobs.incidents.actions import valid
from jobs.incidents.correlate import correlate
from jobs.incidents.evidence import Sources, pool_names
from jobs.incidents.extract import created_resources, remediation_calls
from jobs.incidents.fixes import mark_done
from jobs.incidents.metrics import percentile, summarize
from jobs.incidents.plan import build_plan, key_actions, plan_json
from jobs.incidents.report_markdown import md, plan_markdown
from jobs.incidents.settings import Settings
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from tests.support import incident_fixtures as fx

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
    alerts, ct, flows = fx.frames(spark, with_remediation)
    return Sources(alerts, ct, flows, ranges, fx.dns_frame(spark), pool_names(fx.POOL_INTEL))


@pytest.fixture(scope="module")
def first_run(spark: SparkSession, ranges) -> list[dict]:
    return correlate(sources(spark, ranges), [], Settings(), run_id="run-1", now=NOW)


def by_detection(rows: list[dict], name: str) -> dict:
    return next(r for r in rows if name in r["detection_names"])


# --- extraction (Spark SQL) -----------------------------------------------------------------------


def test_created_resources_reads_the_create_calls_and_skips_failures(spark: SparkSession) -> None:
    rows = created_resources(fx.frame(spark, CLOUDTRAIL_EVENTS, fx.attack_events())).collect()
    got = {
        (r["resource_type"], r["resource_id"], r["parent_id"])
        for r in rows
        if r["access_key_id"] == fx.KEY
    }
    assert got == {
        ("key_pair", fx.KEY_NAME, None),
        ("security_group", fx.GROUP, None),
        ("sg_rule", fx.RULE, fx.GROUP),
        *{("instance", i, None) for i in fx.INSTANCES},
        *{("eni", e, i) for i, e in zip(fx.INSTANCES, fx.ENIS, strict=True)},
        *{("private_ip", p, i) for i, p in zip(fx.INSTANCES, fx.IPS, strict=True)},
    }
    instance = next(r for r in rows if r["resource_id"] == fx.INSTANCES[0])
    assert (
        instance["attrs"]["instance_type"] == "c5.4xlarge"
        and instance["attrs"]["eni_ids"] == fx.ENIS[0]
    )
    rule = next(r for r in rows if r["resource_type"] == "sg_rule")
    assert (rule["attrs"]["protocol"], rule["attrs"]["from_port"], rule["attrs"]["cidr"]) == (
        "tcp",
        "22",
        "0.0.0.0/0",
    )


def test_created_resources_survives_hostile_json(spark: SparkSession) -> None:
    bad = [
        fx.event("RunInstances", fx.at(1), resp={"instancesSet": {"items": "nope"}}),
        fx.event("CreateSecurityGroup", fx.at(1)) | {"response_elements": "{not json"},
    ]
    assert created_resources(fx.frame(spark, CLOUDTRAIL_EVENTS, bad)).count() == 0


def test_remediation_calls_name_their_targets(spark: SparkSession) -> None:
    rows = remediation_calls(fx.frame(spark, CLOUDTRAIL_EVENTS, fx.remediation_events())).collect()
    got = sorted((r["event_name"], r["target_type"], r["target_id"], r["effect"]) for r in rows)
    assert got == sorted(
        [
            ("UpdateAccessKey", "access_key", fx.KEY, "remove"),
            ("DeleteAccessKey", "access_key", fx.KEY, "remove"),
            *[("TerminateInstances", "instance", i, "remove") for i in fx.INSTANCES],
            # the RevokeSecurityGroupIngress names no rule: it removes nothing the plan names
            ("DeleteSecurityGroup", "security_group", fx.GROUP, "remove"),  # not the failed one
            ("DeleteKeyPair", "key_pair", fx.KEY_PAIR_ID, "remove"),
        ]
    )
    assert {r["principal_arn"] for r in rows} >= {fx.ROOT}  # the caller is kept


def _rule_calls(spark: SparkSession) -> list[tuple]:
    ssh = {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22}
    events = [
        fx.event(
            "RevokeSecurityGroupIngress",
            fx.at(50),
            req={"groupId": fx.GROUP, "ipPermissions": {"items": [
                ssh | {"ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}},
                {"ipProtocol": "-1", "ipv6Ranges": {"items": [{"cidrIpv6": "::/0"}]}},
            ]}},
        ),
        fx.event(  # the older flat form (the real Invictus capture has it)
            "RevokeSecurityGroupIngress",
            fx.at(51),
            req={"groupId": fx.GROUP, "ipPermissions": {}, "cidrIp": "10.0.0.0/8", **ssh},
        ),
        fx.event(
            "RevokeSecurityGroupIngress",
            fx.at(52),
            req={"groupId": fx.GROUP,
                 "securityGroupRuleIds": {"items": [{"securityGroupRuleId": fx.RULE}]}},
        ),
        fx.event(
            "AuthorizeSecurityGroupIngress",
            fx.at(53),
            req={"groupId": fx.GROUP, "ipPermissions": {"items": [
                ssh | {"ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}},
        ),
        fx.event("ImportKeyPair", fx.at(54), req={"keyName": fx.KEY_NAME}),
        fx.event("UpdateAccessKey", fx.at(55), source="iam.amazonaws.com",
                 req={"accessKeyId": fx.KEY, "status": "Active"}),
        fx.event("DetachUserPolicy", fx.at(56), source="iam.amazonaws.com",
                 req={"userName": "alice", "policyArn": "arn:aws:iam::aws:policy/X"}),
        fx.event("PutRolePolicy", fx.at(57), source="iam.amazonaws.com",
                 req={"roleName": "Admin", "policyName": "AWSRevokeOlderSessions"}),
    ]  # fmt: skip
    rows = remediation_calls(fx.frame(spark, CLOUDTRAIL_EVENTS, fx._numbered("q", events)))
    return sorted(
        (r["event_name"], r["target_type"], r["target_id"], r["detail"], r["effect"])
        for r in rows.collect()
    )


def test_remediation_calls_name_the_rule_and_what_brings_a_resource_back(
    spark: SparkSession,
) -> None:
    assert _rule_calls(spark) == sorted(
        [
            ("RevokeSecurityGroupIngress", "security_group", fx.GROUP, "tcp|22|22|0.0.0.0/0",
             "remove"),
            ("RevokeSecurityGroupIngress", "security_group", fx.GROUP, "-1|||::/0", "remove"),
            ("RevokeSecurityGroupIngress", "security_group", fx.GROUP, "tcp|22|22|10.0.0.0/8",
             "remove"),
            ("RevokeSecurityGroupIngress", "security_group", fx.GROUP, fx.RULE, "remove"),
            ("AuthorizeSecurityGroupIngress", "security_group", fx.GROUP,
             "tcp|22|22|0.0.0.0/0", "restore"),
            ("ImportKeyPair", "key_pair", fx.KEY_NAME, None, "restore"),
            ("UpdateAccessKey", "access_key", fx.KEY, None, "restore"),
            ("DetachUserPolicy", "user_policy", "arn:aws:iam::aws:policy/X", "alice", "remove"),
            ("PutRolePolicy", "role", "Admin", None, "remove"),
            ("PutRolePolicy", "role_inline_policy", "AWSRevokeOlderSessions", "Admin",
             "restore"),
        ]
    )  # fmt: skip


def test_created_resources_include_persistence_on_existing_identities(
    spark: SparkSession,
) -> None:
    iam = {"source": "iam.amazonaws.com"}
    events = [
        fx.event("CreateAccessKey", fx.at(5), req={"userName": "alice"},
                 resp={"accessKey": {"accessKeyId": fx.OTHER_KEY, "userName": "alice"}}, **iam),
        fx.event("UpdateLoginProfile", fx.at(6), req={"userName": "alice"}, **iam),
        fx.event("AttachRolePolicy", fx.at(7),
                 req={"roleName": "ops", "policyArn": "arn:aws:iam::aws:policy/X"}, **iam),
        fx.event("PutRolePolicy", fx.at(8), req={"roleName": "ops", "policyName": "p"}, **iam),
        fx.event("AddUserToGroup", fx.at(9), req={"userName": "alice", "groupName": "Admins"},
                 **iam),
        fx.event("UpdateAssumeRolePolicy", fx.at(10), req={"roleName": "ops"}, **iam),
        fx.event("AddUserToGroup", fx.at(11), req={"userName": "bob", "groupName": "Admins"},
                 error="AccessDenied", **iam),
    ]  # fmt: skip
    rows = created_resources(fx.frame(spark, CLOUDTRAIL_EVENTS, fx._numbered("p", events)))
    got = sorted((r["resource_type"], r["resource_id"], r["parent_id"]) for r in rows.collect())
    assert got == [
        ("iam_access_key", fx.OTHER_KEY, "alice"),
        ("iam_group_membership", "Admins", "alice"),
        ("iam_login_profile", "alice", "alice"),
        ("iam_role_inline_policy", "p", "ops"),
        ("iam_role_policy_attachment", "arn:aws:iam::aws:policy/X", "ops"),
        ("iam_trust_policy", "ops", "ops"),
    ]


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


# --- plan safety ----------------------------------------------------------------------------------


def test_hostile_ids_never_reach_a_command() -> None:
    evil = "i-0abc; rm -rf /"
    scope = {
        "instances": [{"instance_id": evil, "region": "us-east-1", "account_id": fx.ACCOUNT}],
        "key_pairs": [{"key_name": fx.HOSTILE, "key_pair_id": None, "region": "us-east-1"}],
        "security_groups": [
            {"group_id": "sg-0123456789abcdef0", "created": True, "region": "us-east-1$(id)"}
        ],
    }
    plan = build_plan(scope, {"AKIA$(reboot)AAAAAAAAAA": {"is_root": False, "user_name": "bob"}})
    assert all(a["command"] is None for a in plan) and len(plan) == 5
    assert all(a["console_steps"] for a in plan)
    assert "<img" not in plan_markdown("INC-20261120-0123456789", plan)
    json_text = plan_json("INC-20261120-0123456789", plan)
    assert '"command": null' in json_text


def test_commands_are_shell_quoted_and_parse_back() -> None:
    [deactivate, delete] = key_actions(
        "AKIAAAAABBBBCCCCDDDD", {"user_name": "ops.bot+ci@x", "account_id": fx.ACCOUNT}
    )
    assert shlex.split(delete["command"]) == [
        "aws",
        "iam",
        "delete-access-key",
        "--user-name",
        "ops.bot+ci@x",
        "--access-key-id",
        "AKIAAAAABBBBCCCCDDDD",
    ]
    assert valid("instance", "i-0123456789abcdef0") and not valid(
        "instance", "i-0123456789abcdef0\n"
    )
    assert not valid("access_key", "akiaaaaabbbbccccdddd")


def test_markdown_escaping_makes_values_inert() -> None:
    assert md("a|b `c` <d> [e](f) it's #1") == r"a\|b \`c\` &lt;d&gt; \[e\](f) it&#x27;s \#1"
    assert (
        md("see https://evil.example and www.evil.example")
        == r"see https\://evil.example and www\.evil.example"
    )
    assert md("c5.4xlarge i-0abc\nnext") == "c5.4xlarge i-0abc next"


def test_fix_tracking_needs_the_account_and_time_to_match() -> None:
    plan = build_plan(
        {
            "instances": [
                {
                    "instance_id": "i-0123456789abcdef0",
                    "region": "us-east-1",
                    "account_id": fx.ACCOUNT,
                }
            ]
        },
        {},
    )
    call = {
        "event_id": "e1",
        "event_time": fx.at(30),
        "event_name": "TerminateInstances",
        "account_id": fx.ACCOUNT,
        "region": "us-east-1",
        "target_type": "instance",
        "target_id": "i-0123456789abcdef0",
        "detail": None,
        "effect": "remove",
    }
    assert mark_done(plan, [call], since=fx.at(0))[1] == fx.at(30)
    assert mark_done(plan, [call | {"account_id": "999999999999"}], since=fx.at(0))[1] is None
    assert mark_done(plan, [call | {"region": "us-west-2"}], since=fx.at(0))[1] is None
    assert mark_done(plan, [call], since=fx.at(31))[1] is None
    assert mark_done(plan, [call], since=fx.at(0), compromised=[fx.KEY])[1] == fx.at(30)
    attacker = call | {"access_key_id": fx.KEY}
    assert mark_done(plan, [attacker], since=fx.at(0), compromised=[fx.KEY])[1] is None


def test_a_revoke_counts_only_for_the_rule_the_attacker_added() -> None:
    rule = {
        "group_id": fx.GROUP,
        "rule_id": fx.RULE,
        "protocol": "tcp",
        "from_port": 22,
        "to_port": 22,
        "cidr": "0.0.0.0/0",
        "region": "us-east-1",
        "account_id": fx.ACCOUNT,
    }
    plan = build_plan({"ingress_rules": [rule]}, {})
    base = {
        "event_id": "e1",
        "event_time": fx.at(30),
        "event_name": "RevokeSecurityGroupIngress",
        "account_id": fx.ACCOUNT,
        "region": "us-east-1",
        "access_key_id": "ASIARESPONDER0000000",
        "principal_arn": "arn:aws:iam::123456789012:user/responder",
        "target_type": "security_group",
        "target_id": fx.GROUP,
        "effect": "remove",
    }

    def fixed(*calls: dict) -> object:
        return mark_done(plan, list(calls), since=fx.at(0), rules=[rule], compromised=[fx.KEY])[1]

    decoy = base | {"detail": "tcp|80|80|0.0.0.0/0"}  # another rule of the same group
    assert fixed(decoy) is None
    assert fixed(base | {"detail": "tcp|22|22|0.0.0.0/0"}) == fx.at(30)
    assert fixed(base | {"detail": fx.RULE}) == fx.at(30)  # by rule id
    assert fixed(base | {"detail": fx.RULE, "access_key_id": fx.KEY}) is None  # the attacker's
    re_added = base | {
        "event_id": "e2",
        "event_time": fx.at(40),
        "event_name": "AuthorizeSecurityGroupIngress",
        "detail": "tcp|22|22|0.0.0.0/0",
        "effect": "restore",
    }
    assert fixed(base | {"detail": fx.RULE}, re_added) is None
    deleted = base | {
        "event_id": "e3",
        "event_time": fx.at(45),
        "event_name": "DeleteSecurityGroup",
        "detail": None,
    }
    assert fixed(base | {"detail": fx.RULE}, re_added, deleted) == fx.at(45)


# --- metrics --------------------------------------------------------------------------------------


def test_percentiles_interpolate() -> None:
    assert (
        percentile([10, 20, 30, 40], 50) == 25
        and percentile([5], 90) == 5
        and percentile([], 50) is None
    )


def test_summary_counts_within_target_per_severity() -> None:
    base = datetime(2026, 11, 20, 12, tzinfo=UTC)

    def inc(iid: str, sev: str, fix_min: float | None) -> dict:
        return {
            "incident_id": iid,
            "severity": sev,
            "status": "fixed" if fix_min else "open",
            "started_at": base - timedelta(minutes=10),
            "alert_time": base,
            "detected_at": base + timedelta(minutes=5),
            "fixed_at": None if fix_min is None else base + timedelta(minutes=fix_min),
        }

    rows = summarize(
        [
            inc("a", "critical", 20),
            inc("b", "critical", 50),
            inc("c", "high", 10),
            inc("d", "high", None),
            inc("e", "low", None) | {"status": "merged"},
        ],
        target_minutes=30,
        target_share=0.75,
        as_of=base + timedelta(hours=2),
        run_id="r",
    )
    by = {r["severity"]: r for r in rows}
    assert [r["severity"] for r in rows] == ["all", "critical", "high"]
    assert (by["all"]["incidents"], by["all"]["fixed"], by["all"]["within_target"]) == (4, 3, 2)
    assert by["all"]["share_within_target"] == 0.5 and by["all"]["meets_target"] is False
    assert by["all"]["over_target"] == ["b", "d"]
    assert (
        by["critical"]["alert_to_fix_p50_s"] == 35 * 60 and by["all"]["start_to_alert_p90_s"] == 600
    )
    assert by["high"]["alert_to_fix_p90_s"] == 600 and by["all"]["detection_latency_p50_s"] == 300


def test_settings_read_durations_from_conf() -> None:
    s = Settings.of({"incidents": {"window": "2 hours", "history_days": 10}})
    assert s.window == timedelta(hours=2) and s.history_days == 10 and s.tail == timedelta(hours=24)


def test_root_key_plan_is_console_only() -> None:
    plan = key_actions(fx.KEY, {"is_root": True, "account_id": fx.ACCOUNT})
    assert [a["command"] for a in plan] == [None, None]
    assert "assume-root" in plan[0]["description"]
