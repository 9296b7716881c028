"""Drafting and finalizing incidents from plain evidence (``draft``, ``rows``, ``fixes``): the
pure steps after ``evidence.gather``, tested without Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.incidents import graph
from jobs.incidents.draft import draft_incident, revoke_before, user_of
from jobs.incidents.fixes import apply_fixes, fix_targets
from jobs.incidents.model import Draft, IncidentEvidence, aware
from jobs.incidents.rows import finalize, status_of
from jobs.incidents.settings import Settings

T0 = datetime(2026, 11, 20, 13, 42, 17, tzinfo=UTC)
ACCOUNT = "123456789012"
KEY = "AKIAAAAABBBBCCCCDDDD"
SESSION_KEY = "ASIAAAAABBBBCCCCDDDD"
ROLE = "arn:aws:iam::123456789012:role/ops/Admin"
ATTACKER = "167.99.54.10"
DEV = f"arn:aws:iam::{ACCOUNT}:user/team/dev"


def _alert(aid: str, minute: int, severity: str, tactics: tuple[str, ...]) -> graph.Alert:
    t = T0 + timedelta(minutes=minute)
    return graph.Alert(
        aid, f"det_{aid}", f"title {aid}", severity, t, t + timedelta(minutes=10), t, t,
        account_id=ACCOUNT, region="us-east-1", access_key_id=KEY, mitre_tactics=tactics,
    )  # fmt: skip


def _evidence() -> IncidentEvidence:
    return IncidentEvidence(
        start={
            "started_at": T0 - timedelta(minutes=30),
            "key_first_seen": T0 - timedelta(days=10),
            "key_previous_seen": T0 - timedelta(days=5, minutes=30),
        },
        activity=[
            {
                "event_source": "ec2.amazonaws.com",
                "event_name": "ImportKeyPair",
                "first_seen": T0,
                "last_seen": T0 + timedelta(minutes=20, seconds=30),
            }
        ],
        keys=[
            {
                "access_key_id": KEY,
                "is_root": False,
                "user_name": None,
                "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/team/dev",
                "account_id": ACCOUNT,
            },
            {
                "access_key_id": SESSION_KEY,
                "session_issuer_type": "Role",
                "session_issuer_arn": ROLE,
                "account_id": ACCOUNT,
                "first_used": T0,
            },
        ],
        sources=[
            {"ip": "10.0.0.9", "calls": 2, "first_seen": T0, "last_seen": T0},
            {"ip": ATTACKER, "calls": 5, "asn": 14061, "first_seen": T0, "last_seen": T0},
        ],
        peers=[{"ip": ATTACKER, "direction": "inbound", "port": 22, "bytes": 900}],
        touched={"principals": [DEV]},
        resources={
            "instances": [],
            "security_groups": [],
            "ingress_rules": [],
            "key_pairs": [
                {
                    "key_name": "svc-maint",
                    "key_pair_id": "key-0123456789abcdef0",
                    "region": "us-east-1",
                    "account_id": ACCOUNT,
                }
            ],
            "iam": [],
            "assumed_roles": [],
        },
        minute_calls=[{"minute": T0, "api_calls": 3, "write_calls": 1}],
    )


def _draft() -> Draft:
    alerts = [_alert("a1", 0, "high", ("TA0001",)), _alert("a2", 5, "medium", ("TA0040", "TA0011"))]
    group = graph.Group(alerts, {("access_key", KEY)})
    return draft_incident("INC-20261120-0123456789", group, ["INC-old"], _evidence(), Settings())


def test_draft_scopes_the_incident_from_its_evidence() -> None:
    d = _draft()
    row, scope = d.row, d.row["scope"]
    assert (row["started_at"], row["severity"], row["alert_ids"]) == (
        T0 - timedelta(minutes=30),
        "critical",  # three tactics escalate high
        ["a1", "a2"],
    )
    assert row["window_end"] == T0 + timedelta(minutes=15) + timedelta(hours=24)
    assert scope["dormant_days"] == 5.0 and scope["lookback_days"] == 30
    assert [(r["role_arn"], r["session_access_key_id"]) for r in scope["assumed_roles"]] == [
        (ROLE, SESSION_KEY)
    ]
    assert ROLE in scope["principals"]
    assert [(s["ip"], s["seen_in"]) for s in scope["source_ips"]] == [
        (ATTACKER, "cloudtrail+vpc_flows"),
        ("10.0.0.9", "cloudtrail"),
    ]
    assert (
        row["title"] == f"Access key {KEY} from {ATTACKER}, 10.0.0.9: title a1 (+1 related alerts)"
    )
    assert row["timeline"] == [{"minute": T0, "api_calls": 3, "write_calls": 1, "flow_bytes": 0}]
    assert (d.merged, d.aliases) == (["INC-old"], {"key-0123456789abcdef0": "svc-maint"})


def test_draft_plan_uses_the_user_from_the_arn_and_revokes_after_the_last_activity() -> None:
    plan = _draft().row["remediation"]
    assert [(a["step"], a["action"], a["resource_id"]) for a in plan] == [
        (1, "deactivate_access_key", KEY),
        (2, "delete_access_key", KEY),
        (3, "revoke_role_sessions", ROLE),
        (4, "delete_key_pair", "svc-maint"),
    ]
    assert plan[1]["command"] == f"aws iam delete-access-key --user-name dev --access-key-id {KEY}"
    # last activity 14:02:47 -> sessions issued before 14:03:00 are denied
    assert '"aws:TokenIssueTime":"2026-11-20T14:03:00Z"' in plan[2]["command"]


def test_revoke_before_is_the_next_minute_and_user_of_reads_iam_user_arns() -> None:
    assert revoke_before(T0) == "2026-11-20T13:43:00Z"
    assert revoke_before(T0.replace(second=0)) == "2026-11-20T13:43:00Z"  # always the next one
    assert user_of("arn:aws:iam::1:user/a/b/carol") == "carol"
    assert user_of("arn:aws:iam::1:root") is None and user_of(None) is None


def test_fixes_mark_actions_done_from_calls_on_plan_ids_and_aliases() -> None:
    d = _draft()
    assert fix_targets([d]) == sorted(["Admin", KEY, "key-0123456789abcdef0", "svc-maint"])
    deleted = T0 + timedelta(hours=1)
    call = {
        "event_id": "e9",
        "event_time": deleted,
        "event_name": "DeleteKeyPair",
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "access_key_id": "ASIARESPONDER0000000",
        "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/responder",
        "target_type": "key_pair",
        "target_id": "key-0123456789abcdef0",  # by id: the alias of svc-maint
        "detail": None,
        "effect": "remove",
    }
    apply_fixes([d], [call])
    done = [a for a in d.row["remediation"] if a["done"]]
    assert [(a["action"], a["done_at"], a["done_by_event_id"]) for a in done] == [
        ("delete_key_pair", deleted, "e9")
    ]
    assert (d.row["actions_total"], d.row["actions_done"], d.row["fixed_at"]) == (4, 1, None)


def _key_pair_done(calls: list[dict]) -> bool:
    d = _draft()
    apply_fixes([d], calls)
    return next(a for a in d.row["remediation"] if a["action"] == "delete_key_pair")["done"]


def test_fix_tracking_ignores_the_attacker_other_regions_and_withdraws_on_return() -> None:
    later = T0 + timedelta(hours=1)
    fix = {
        "event_id": "e1",
        "event_time": later,
        "event_name": "DeleteKeyPair",
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "access_key_id": "ASIARESPONDER0000000",
        "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/responder",
        "target_type": "key_pair",
        "target_id": "svc-maint",
        "detail": None,
        "effect": "remove",
    }
    back = fix | {
        "event_id": "e2",
        "event_time": later + timedelta(minutes=5),
        "event_name": "ImportKeyPair",
        "effect": "restore",
        "access_key_id": KEY,
    }
    assert _key_pair_done([fix])
    assert not _key_pair_done([fix | {"access_key_id": KEY}])  # the stolen key's own clean-up
    assert not _key_pair_done([fix | {"access_key_id": SESSION_KEY}])  # a session it minted
    assert not _key_pair_done(  # the compromised user, with another key
        [fix | {"access_key_id": "AKIAOTHER00000000000", "principal_arn": DEV}]
    )
    assert not _key_pair_done([fix | {"region": "eu-west-1"}])  # a same-named pair elsewhere
    assert not _key_pair_done([fix | {"account_id": "210987654321"}])
    assert not _key_pair_done([fix, back])  # re-imported after the fix
    assert _key_pair_done([fix, back, fix | {"event_id": "e3", "event_time": later + timedelta(1)}])


def test_finalize_carries_manual_state_and_reopens_on_new_alerts() -> None:
    now = T0 + timedelta(days=1)
    d = _draft()
    apply_fixes([d], [])
    prior_done = [
        dict(a, done=True, done_at=T0 + timedelta(hours=2), done_by_event_id=f"e{a['step']}")
        for a in d.row["remediation"]
    ]
    prior = {
        "INC-20261120-0123456789": {
            "incident_id": "INC-20261120-0123456789",
            "status": "resolved",
            "alert_ids": ["a1"],  # a2 is new: the incident reopens
            "remediation": prior_done,
            "resolved_at": T0,
            "resolved_by": "bob",
            "resolution_note": "done",
            "acknowledged_at": T0,
            "acknowledged_by": "alice",
            "created_at": T0 - timedelta(days=1),
        },
        "INC-old": {"incident_id": "INC-old", "status": "open", "alert_ids": ["a0"]},
    }
    [row, merged] = finalize([d], prior, "run-9", now)
    assert (row["status"], row["resolved_at"], row["resolved_by"], row["resolution_note"]) == (
        "fixed",  # every action was seen done before: they stay done
        None,
        None,
        "done",
    )
    assert row["fixed_at"] == T0 + timedelta(hours=2) and row["actions_done"] == 4
    assert (row["acknowledged_by"], row["created_at"], row["run_id"]) == (
        "alice",
        T0 - timedelta(days=1),
        "run-9",
    )
    assert (merged["incident_id"], merged["status"], merged["merged_into"]) == (
        "INC-old",
        "merged",
        "INC-20261120-0123456789",
    )
    assert finalize([Draft(dict(row), [], {})], {row["incident_id"]: row}, "run-10", now) == []


def test_a_resource_that_came_back_is_no_longer_done_in_the_next_row() -> None:
    fixed_at = T0 + timedelta(hours=1)
    removal = {
        "event_id": "e1",
        "event_time": fixed_at,
        "event_name": "DeleteKeyPair",
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "access_key_id": "ASIARESPONDER0000000",
        "principal_arn": f"arn:aws:iam::{ACCOUNT}:user/responder",
        "target_type": "key_pair",
        "target_id": "svc-maint",
        "detail": None,
        "effect": "remove",
    }
    earlier = _draft()
    apply_fixes([earlier], [removal])
    prior = {earlier.row["incident_id"]: dict(earlier.row, status="open", alert_ids=["a1", "a2"])}
    reimported = removal | {
        "event_id": "e2",
        "event_time": fixed_at + timedelta(minutes=5),
        "event_name": "ImportKeyPair",
        "effect": "restore",
    }
    for calls, done in (([], True), ([removal, reimported], False)):
        d = _draft()
        apply_fixes([d], calls)
        [row] = finalize([d], prior, "run-2", T0 + timedelta(days=1)) or [d.row]
        pair = next(a for a in row["remediation"] if a["action"] == "delete_key_pair")
        assert pair["done"] is done  # kept from the prior row only while the pair is gone
    assert d.withdrawn == {("delete_key_pair", "svc-maint")}


def test_status_order_and_aware_times() -> None:
    assert status_of(T0, {"resolved_at": T0}) == "resolved"
    assert status_of(T0, {"acknowledged_at": T0}) == "fixed"
    assert status_of(None, {"acknowledged_at": T0}) == "acknowledged"
    assert status_of(None, {}) == "open"
    naive = datetime(2026, 11, 20, 13, 42, 17)
    assert aware({"a": [naive, (naive,)], "b": 1}) == {"a": [T0, [T0]], "b": 1}
