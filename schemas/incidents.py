"""Gold contracts for response: ``gold/incidents`` and ``gold/response_metrics``.

An incident is a connected group of alerts (shared access key, principal or resource within a
window) with what the responder needs: the principal's activity, the scope of the damage, an
ordered remediation plan and, from later CloudTrail, which fixes are done.
"""

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from schemas.alerts import ENTITY

# open -> acknowledged (manual) -> fixed (every plan action seen in CloudTrail)
# -> resolved (manual).
# merged: its alerts joined an older incident (``merged_into``).
STATUSES = ("open", "acknowledged", "fixed", "resolved", "merged")


def _strings(*names: str) -> list[StructField]:
    return [StructField(n, StringType()) for n in names]


def _string_array(name: str) -> StructField:
    return StructField(name, ArrayType(StringType()))


# One row per (service, event name): the non-read-only calls made with the incident's identities.
ACTIVITY = StructType(
    _strings("event_source", "event_name")
    + [
        StructField("calls", LongType()),
        StructField("errors", LongType()),
        StructField("first_seen", TimestampType()),
        StructField("last_seen", TimestampType()),
        _string_array("source_ips"),
        _string_array("user_agents"),
        _string_array("error_codes"),
        _string_array("regions"),
    ]
)

INSTANCE = StructType(
    _strings(
        "instance_id", "instance_type", "image_id", "key_name", "account_id", "region", "vpc_id"
    )
    + [
        _string_array("eni_ids"),
        _string_array("private_ips"),
        _string_array("group_ids"),
        StructField("launched_at", TimestampType()),
        StructField("launch_event_id", StringType()),
    ]
)

SG_RULE = StructType(
    _strings("group_id", "rule_id", "protocol", "cidr", "account_id", "region")
    + [
        StructField("from_port", IntegerType()),
        StructField("to_port", IntegerType()),
        StructField("added_at", TimestampType()),
    ]
)

SECURITY_GROUP = StructType(
    _strings("group_id", "group_name", "vpc_id", "account_id", "region")
    + [StructField("created", BooleanType()), StructField("created_at", TimestampType())]
)

KEY_PAIR = StructType(
    _strings("key_name", "key_pair_id", "event_name", "account_id", "region")
    + [StructField("created_at", TimestampType())]
)

IAM_RESOURCE = StructType(
    # kind: user | access_key | policy | user_policy_attachment | inline_policy | login_profile
    # | group_membership (resource_id: the group) | role_policy_attachment | role_inline_policy
    # | trust_policy (resource_id: the role); user_name: the user or, for role_* and
    # trust_policy, the role the part belongs to
    _strings("kind", "resource_id", "user_name", "policy_arn", "account_id")
    + [StructField("created_at", TimestampType())]
)

ASSUMED_ROLE = StructType(
    _strings("role_arn", "session_arn", "session_access_key_id", "account_id")
    + [StructField("assumed_at", TimestampType())]
)

SOURCE_IP = StructType(
    _strings("ip", "as_org", "seen_in")
    + [
        StructField("asn", IntegerType()),
        StructField("is_hosting", BooleanType()),
        StructField("calls", LongType()),
        StructField("first_seen", TimestampType()),
        StructField("last_seen", TimestampType()),
    ]
)

DESTINATION = StructType(
    _strings("ip", "as_org", "direction")
    + [
        StructField("port", IntegerType()),
        StructField("protocol", IntegerType()),
        StructField("asn", IntegerType()),
        StructField("bytes", LongType()),
        StructField("packets", LongType()),
        StructField("flows", LongType()),
        _string_array("instance_ids"),
        StructField("first_seen", TimestampType()),
        StructField("last_seen", TimestampType()),
    ]
)

SCOPE = StructType(
    [
        StructField("key_first_seen", TimestampType()),  # first use in the lookback (30 days)
        StructField("key_previous_seen", TimestampType()),  # last use before the attack session
        StructField("dormant_days", DoubleType()),
        StructField("lookback_days", IntegerType()),
        _string_array("accounts"),
        _string_array("regions"),
        _string_array("principals"),
        _string_array("access_keys"),
        StructField("assumed_roles", ArrayType(ASSUMED_ROLE)),
        StructField("instances", ArrayType(INSTANCE)),
        StructField("security_groups", ArrayType(SECURITY_GROUP)),
        StructField("ingress_rules", ArrayType(SG_RULE)),
        StructField("key_pairs", ArrayType(KEY_PAIR)),
        StructField("iam", ArrayType(IAM_RESOURCE)),
        StructField("source_ips", ArrayType(SOURCE_IP)),
        StructField("destinations", ArrayType(DESTINATION)),
    ]
)

# One resource-level action. ``command`` is a shell-safe AWS CLI line built from validated ids
# (NULL for console-only actions, whose steps are in ``console_steps``).
PLAN_ACTION = StructType(
    [
        StructField("step", IntegerType()),
        StructField("action", StringType()),
        StructField("resource_type", StringType()),
        StructField("resource_id", StringType()),
        StructField("account_id", StringType()),
        StructField("region", StringType()),
        StructField("description", StringType()),
        StructField("command", StringType()),
        _string_array("console_steps"),
        StructField("done", BooleanType()),
        StructField("done_at", TimestampType()),
        StructField("done_by_event_id", StringType()),
    ]
)

# One row per instance, name asked, type, rcode and answers: lookups of mining-pool names (the
# name or a CNAME target in conf/intel/mining_pools.yml) by the incident's instances.
# ``connected_ips``: the answered addresses the instance's flows went to after a lookup.
DNS_LOOKUP = StructType(
    _strings("instance_id", "query_name", "query_type", "rcode")
    + [
        _string_array("answers"),
        _string_array("pool_names"),
        _string_array("connected_ips"),
        StructField("lookups", LongType()),
        StructField("first_seen", TimestampType()),
        StructField("last_seen", TimestampType()),
    ]
)

TIMELINE_POINT = StructType(
    [
        StructField("minute", TimestampType()),
        StructField("api_calls", LongType()),
        StructField("write_calls", LongType()),
        StructField("flow_bytes", LongType()),
    ]
)

INCIDENTS = StructType(
    [
        StructField("incident_id", StringType(), False),
        StructField("status", StringType(), False),
        StructField("severity", StringType(), False),
        StructField("title", StringType(), False),
        StructField("principal_arn", StringType()),
        StructField("access_key_id", StringType()),
        StructField("account_id", StringType()),
        StructField("started_at", TimestampType()),
        StructField("alert_time", TimestampType(), False),
        StructField("detected_at", TimestampType(), False),  # first of the alerts' created_at
        StructField("last_seen", TimestampType(), False),
        StructField("window_end", TimestampType(), False),
        StructField("alert_ids", ArrayType(StringType()), False),
        StructField("alert_count", LongType(), False),
        StructField("detection_names", ArrayType(StringType()), False),
        StructField("entities", ArrayType(ENTITY), False),
        StructField("mitre_tactics", ArrayType(StringType()), False),
        StructField("mitre_techniques", ArrayType(StringType()), False),
        StructField("activity", ArrayType(ACTIVITY), False),
        StructField("scope", SCOPE, False),
        StructField("remediation", ArrayType(PLAN_ACTION), False),
        StructField("actions_total", IntegerType(), False),
        StructField("actions_done", IntegerType(), False),
        StructField("fixed_at", TimestampType()),
        StructField("timeline", ArrayType(TIMELINE_POINT), False),
        StructField("acknowledged_at", TimestampType()),
        StructField("acknowledged_by", StringType()),
        StructField("resolved_at", TimestampType()),
        StructField("resolved_by", StringType()),
        StructField("resolution_note", StringType()),
        StructField("merged_into", StringType()),
        StructField("created_at", TimestampType(), False),
        StructField("updated_at", TimestampType(), False),
        StructField("run_id", StringType(), False),
        # Added after the first release: nullable, so older tables gain them by ALTER TABLE
        # (jobs.runtime.delta.Table.ensure). The first lookups of mining-pool names (most
        # relevant first, at most ``evidence.DNS_LOOKUPS_KEPT``) and how many there were in all.
        StructField("dns_lookups", ArrayType(DNS_LOOKUP)),
        StructField("dns_lookups_total", LongType()),
    ]
)

# One row per run and severity ('all' too): response timings against the target.
RESPONSE_METRICS = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("computed_at", TimestampType(), False),
        StructField("severity", StringType(), False),
        StructField("incidents", LongType(), False),
        StructField("fixed", LongType(), False),
        StructField("start_to_alert_p50_s", DoubleType()),
        StructField("start_to_alert_p75_s", DoubleType()),
        StructField("start_to_alert_p90_s", DoubleType()),
        StructField("detection_latency_p50_s", DoubleType()),
        StructField("detection_latency_p75_s", DoubleType()),
        StructField("detection_latency_p90_s", DoubleType()),
        StructField("alert_to_fix_p50_s", DoubleType()),
        StructField("alert_to_fix_p75_s", DoubleType()),
        StructField("alert_to_fix_p90_s", DoubleType()),
        StructField("target_minutes", DoubleType(), False),
        StructField("target_share", DoubleType(), False),
        StructField("within_target", LongType(), False),
        StructField("share_within_target", DoubleType()),
        StructField("meets_target", BooleanType()),
        StructField("over_target", ArrayType(StringType()), False),
    ]
)
