"""Incident plans on tiny frames: the resources an attacker's calls created and the calls that
remove or bring them back (Spark SQL); plans whose commands stay inert for hostile ids and parse
back; fix tracking that counts a call only in the right account, after the alert, by someone other
than the attacker and on the rule the attacker added; and the time-to-fix metrics."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from jobs.incidents.actions import valid
from jobs.incidents.extract import created_resources, remediation_calls
from jobs.incidents.fixes import mark_done
from jobs.incidents.metrics import percentile, summarize
from jobs.incidents.plan import build_plan, key_actions, plan_json
from jobs.incidents.report_markdown import md, plan_markdown
from schemas.cloudtrail import CLOUDTRAIL_EVENTS
from tests.support import incident_fixtures as fx

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


def test_root_key_plan_is_console_only() -> None:
    plan = key_actions(fx.KEY, {"is_root": True, "account_id": fx.ACCOUNT})
    assert [a["command"] for a in plan] == [None, None]
    assert "assume-root" in plan[0]["description"]


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
