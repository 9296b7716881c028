"""Entities from CloudTrail, in Spark SQL: what each identity created, and the remediation calls.

``created_resources`` turns the successful create calls (RunInstances, CreateSecurityGroup,
AuthorizeSecurityGroupIngress, ImportKeyPair/CreateKeyPair, the IAM create/attach calls and the
STS calls that mint session keys) into one row per resource, keyed by the identity that made it.
``remediation_calls`` turns the delete/deactivate calls into one row per target. Request and
response bodies are attacker-influenced JSON text: every field is read as a string and typed with
``try_cast``; nothing here fails on a malformed body, it yields NULLs.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# readOnly when CloudTrail says so; otherwise by name (Get*, List*, Describe*, Head* read).
MUTATING_SQL = (
    "(read_only = false OR (read_only IS NULL "
    "AND NOT coalesce(event_name, '') RLIKE '^(Get|List|Describe|Head)'))"
)

CREATED_COLUMNS = (
    "account_id",
    "region",
    "event_time",
    "event_id",
    "event_name",
    "access_key_id",
    "principal_arn",
    "resource_type",
    "resource_id",
    "parent_id",
    "attrs",
)

_RUN_RESPONSE = """struct<instancesSet: struct<items: array<struct<
    instanceId: string, instanceType: string, imageId: string, keyName: string, vpcId: string,
    privateIpAddress: string,
    networkInterfaceSet: struct<items: array<struct<networkInterfaceId: string,
        privateIpAddress: string>>>,
    groupSet: struct<items: array<struct<groupId: string>>>>>>>"""

_PERMISSIONS = """struct<groupId: string, groupName: string,
    ipPermissions: struct<items: array<struct<ipProtocol: string, fromPort: string,
        toPort: string, ipRanges: struct<items: array<struct<cidrIp: string>>>,
        ipv6Ranges: struct<items: array<struct<cidrIpv6: string>>>>>>>"""

_RULE_SET = """struct<securityGroupRuleSet: struct<items: array<struct<securityGroupRuleId: string,
    groupId: string, isEgress: string, ipProtocol: string, fromPort: string, toPort: string,
    cidrIpv4: string, cidrIpv6: string>>>>"""

# ``{events}`` is the silver CloudTrail frame (spark.sql's DataFrame formatting).
CREATED_SQL = f"""
WITH ev AS (
    SELECT account_id, aws_region AS region, event_time, event_id, event_name, access_key_id,
        principal_arn, request_parameters AS req, response_elements AS resp
    FROM {{events}}
    WHERE error_code IS NULL AND event_name IN (
        'RunInstances', 'CreateSecurityGroup', 'AuthorizeSecurityGroupIngress', 'ImportKeyPair',
        'CreateKeyPair', 'CreateUser', 'CreateAccessKey', 'CreateLoginProfile',
        'UpdateLoginProfile', 'CreatePolicy', 'AttachUserPolicy', 'PutUserPolicy',
        'AttachRolePolicy', 'PutRolePolicy', 'AddUserToGroup', 'UpdateAssumeRolePolicy',
        'AssumeRole', 'GetSessionToken', 'GetFederationToken')
),
launched AS (
    SELECT ev.*, inst
    FROM ev
    LATERAL VIEW explode(from_json(resp, '{_RUN_RESPONSE}').instancesSet.items) x AS inst
    WHERE event_name = 'RunInstances'
),
instances AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'instance' AS resource_type, inst.instanceId AS resource_id,
        CAST(NULL AS STRING) AS parent_id,
        map('instance_type', inst.instanceType, 'image_id', inst.imageId,
            'key_name', inst.keyName, 'vpc_id', inst.vpcId,
            'private_ip', inst.privateIpAddress,
            'eni_ids', array_join(transform(inst.networkInterfaceSet.items,
                n -> n.networkInterfaceId), ','),
            'private_ips', array_join(array_distinct(concat(array(inst.privateIpAddress),
                transform(inst.networkInterfaceSet.items, n -> n.privateIpAddress))), ','),
            'group_ids', array_join(transform(inst.groupSet.items, g -> g.groupId), ','))
            AS attrs
    FROM launched
),
enis AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'eni' AS resource_type, nic.networkInterfaceId AS resource_id,
        inst.instanceId AS parent_id,
        map('private_ip', nic.privateIpAddress) AS attrs
    FROM launched LATERAL VIEW explode(inst.networkInterfaceSet.items) y AS nic
),
private_ips AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'private_ip' AS resource_type, ip AS resource_id, inst.instanceId AS parent_id,
        map('vpc_id', inst.vpcId) AS attrs
    FROM launched LATERAL VIEW explode(array_distinct(concat(array(inst.privateIpAddress),
        transform(inst.networkInterfaceSet.items, n -> n.privateIpAddress)))) z AS ip
    WHERE ip IS NOT NULL
),
groups AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'security_group' AS resource_type,
        get_json_object(resp, '$.groupId') AS resource_id, CAST(NULL AS STRING) AS parent_id,
        map('group_name', get_json_object(req, '$.groupName'),
            'vpc_id', get_json_object(req, '$.vpcId')) AS attrs
    FROM ev WHERE event_name = 'CreateSecurityGroup'
),
authorized AS (
    SELECT ev.*, from_json(req, '{_PERMISSIONS}') AS p, from_json(resp, '{_RULE_SET}') AS r
    FROM ev WHERE event_name = 'AuthorizeSecurityGroupIngress'
),
rules_from_response AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'sg_rule' AS resource_type, rule.securityGroupRuleId AS resource_id,
        coalesce(rule.groupId, p.groupId) AS parent_id,
        map('protocol', rule.ipProtocol, 'from_port', rule.fromPort, 'to_port', rule.toPort,
            'cidr', coalesce(rule.cidrIpv4, rule.cidrIpv6), 'rule_id', rule.securityGroupRuleId)
            AS attrs
    FROM authorized LATERAL VIEW explode(r.securityGroupRuleSet.items) a AS rule
    WHERE NOT coalesce(try_cast(rule.isEgress AS BOOLEAN), false)
),
rules_from_request AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'sg_rule' AS resource_type,
        concat_ws('|', p.groupId, perm.ipProtocol, perm.fromPort, perm.toPort, cidr)
            AS resource_id,
        p.groupId AS parent_id,
        map('protocol', perm.ipProtocol, 'from_port', perm.fromPort, 'to_port', perm.toPort,
            'cidr', cidr, 'rule_id', CAST(NULL AS STRING)) AS attrs
    FROM authorized
    LATERAL VIEW explode(p.ipPermissions.items) b AS perm
    LATERAL VIEW explode(concat(
        coalesce(transform(perm.ipRanges.items, c -> c.cidrIp), array()),
        coalesce(transform(perm.ipv6Ranges.items, c -> c.cidrIpv6), array()))) c AS cidr
    WHERE coalesce(size(r.securityGroupRuleSet.items), 0) <= 0
),
key_pairs AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'key_pair' AS resource_type,
        coalesce(get_json_object(resp, '$.keyName'), get_json_object(req, '$.keyName'))
            AS resource_id,
        CAST(NULL AS STRING) AS parent_id,
        map('key_pair_id', get_json_object(resp, '$.keyPairId')) AS attrs
    FROM ev WHERE event_name IN ('ImportKeyPair', 'CreateKeyPair')
),
iam AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        CASE event_name
            WHEN 'CreateUser' THEN 'iam_user'
            WHEN 'CreateAccessKey' THEN 'iam_access_key'
            WHEN 'CreatePolicy' THEN 'iam_policy'
            WHEN 'AttachUserPolicy' THEN 'iam_policy_attachment'
            WHEN 'PutUserPolicy' THEN 'iam_inline_policy'
            WHEN 'AttachRolePolicy' THEN 'iam_role_policy_attachment'
            WHEN 'PutRolePolicy' THEN 'iam_role_inline_policy'
            WHEN 'AddUserToGroup' THEN 'iam_group_membership'
            WHEN 'UpdateAssumeRolePolicy' THEN 'iam_trust_policy'
            ELSE 'iam_login_profile'
        END AS resource_type,
        CASE
            WHEN event_name IN ('CreateUser', 'CreateLoginProfile', 'UpdateLoginProfile')
                THEN get_json_object(req, '$.userName')
            WHEN event_name = 'CreateAccessKey'
                THEN get_json_object(resp, '$.accessKey.accessKeyId')
            WHEN event_name = 'CreatePolicy' THEN get_json_object(resp, '$.policy.arn')
            WHEN event_name IN ('AttachUserPolicy', 'AttachRolePolicy')
                THEN get_json_object(req, '$.policyArn')
            WHEN event_name = 'AddUserToGroup' THEN get_json_object(req, '$.groupName')
            WHEN event_name = 'UpdateAssumeRolePolicy' THEN get_json_object(req, '$.roleName')
            ELSE get_json_object(req, '$.policyName')
        END AS resource_id,
        CASE WHEN event_name = 'CreatePolicy' THEN NULL
            ELSE coalesce(get_json_object(req, '$.userName'), get_json_object(req, '$.roleName'),
                get_json_object(resp, '$.accessKey.userName'))
        END AS parent_id,
        map('policy_name', coalesce(get_json_object(req, '$.policyName'),
            get_json_object(resp, '$.policy.policyName'))) AS attrs
    FROM ev
    WHERE event_name IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile',
        'UpdateLoginProfile', 'CreatePolicy', 'AttachUserPolicy', 'PutUserPolicy',
        'AttachRolePolicy', 'PutRolePolicy', 'AddUserToGroup', 'UpdateAssumeRolePolicy')
),
sessions AS (
    SELECT account_id, region, event_time, event_id, event_name, access_key_id, principal_arn,
        'session' AS resource_type,
        get_json_object(resp, '$.credentials.accessKeyId') AS resource_id,
        CAST(NULL AS STRING) AS parent_id,
        map('role_arn', get_json_object(req, '$.roleArn'),
            'session_arn', coalesce(get_json_object(resp, '$.assumedRoleUser.arn'),
                get_json_object(resp, '$.federatedUser.arn'))) AS attrs
    FROM ev WHERE event_name IN ('AssumeRole', 'GetSessionToken', 'GetFederationToken')
)
SELECT * FROM (
    SELECT * FROM instances UNION ALL SELECT * FROM enis UNION ALL SELECT * FROM private_ips
    UNION ALL SELECT * FROM groups UNION ALL SELECT * FROM rules_from_response
    UNION ALL SELECT * FROM rules_from_request UNION ALL SELECT * FROM key_pairs
    UNION ALL SELECT * FROM iam UNION ALL SELECT * FROM sessions
) WHERE resource_id IS NOT NULL AND trim(resource_id) <> ''
"""

REMEDIATION_COLUMNS = (
    "event_id",
    "event_time",
    "event_name",
    "account_id",
    "region",
    "access_key_id",
    "principal_arn",
    "target_type",
    "target_id",
    "detail",
    "effect",
)

_TERMINATE = "struct<instancesSet: struct<items: array<struct<instanceId: string>>>>"
_REVOKED = """struct<ipProtocol: string, fromPort: string, toPort: string, cidrIp: string,
    ipPermissions: struct<items: array<struct<ipProtocol: string, fromPort: string,
        toPort: string, ipRanges: struct<items: array<struct<cidrIp: string>>>,
        ipv6Ranges: struct<items: array<struct<cidrIpv6: string>>>>>>,
    securityGroupRuleIds: struct<items: array<struct<securityGroupRuleId: string>>>>"""


def _rule(protocol: str, from_port: str, to_port: str, cidr: str) -> str:
    """SQL for an ingress rule as ``protocol|from|to|cidr`` (``fixes.rule_detail``)."""
    ports = [
        f"CASE WHEN lower({protocol}) = '-1' THEN '' "
        f"ELSE coalesce(CAST(try_cast({p} AS INT) AS STRING), '') END"
        for p in (from_port, to_port)
    ]
    return f"concat_ws('|', lower({protocol}), {ports[0]}, {ports[1]}, {cidr})"


def _req(path: str) -> str:
    return f"get_json_object(req, '$.{path}')"


def _rules_of(permissions: str) -> str:
    """SQL: the ``_rule`` text of every range of an ``ipPermissions.items`` array."""
    ranges = (
        "concat(coalesce(transform(p.ipRanges.items, c -> c.cidrIp), array()), "
        "coalesce(transform(p.ipv6Ranges.items, c -> c.cidrIpv6), array()))"
    )
    rule = _rule("p.ipProtocol", "p.fromPort", "p.toPort", "c")
    each = f"p -> transform({ranges}, c -> {rule})"
    return f"flatten(transform(coalesce({permissions}, array()), {each}))"


# (event names, target_type, target_id, detail, effect): one target per successful call.
_SIMPLE_TARGETS = (
    ("'DeleteAccessKey'", "access_key", _req("accessKeyId"), "NULL", "remove"),
    ("'DeleteSecurityGroup'", "security_group", _req("groupId"), "NULL", "remove"),
    ("'ImportKeyPair', 'CreateKeyPair'", "key_pair", _req("keyName"), "NULL", "restore"),
    ("'DeleteUser'", "iam_user", _req("userName"), "NULL", "remove"),
    ("'CreateUser'", "iam_user", _req("userName"), "NULL", "restore"),
    ("'DeleteLoginProfile'", "login_profile", _req("userName"), "NULL", "remove"),
    (
        "'CreateLoginProfile', 'UpdateLoginProfile'",
        "login_profile",
        _req("userName"),
        "NULL",
        "restore",
    ),
    ("'DetachUserPolicy'", "user_policy", _req("policyArn"), _req("userName"), "remove"),
    ("'AttachUserPolicy'", "user_policy", _req("policyArn"), _req("userName"), "restore"),
    ("'DeleteUserPolicy'", "user_inline_policy", _req("policyName"), _req("userName"), "remove"),
    ("'PutUserPolicy'", "user_inline_policy", _req("policyName"), _req("userName"), "restore"),
    ("'DetachRolePolicy'", "role_policy", _req("policyArn"), _req("roleName"), "remove"),
    ("'AttachRolePolicy'", "role_policy", _req("policyArn"), _req("roleName"), "restore"),
    ("'DeleteRolePolicy'", "role_inline_policy", _req("policyName"), _req("roleName"), "remove"),
    ("'PutRolePolicy'", "role_inline_policy", _req("policyName"), _req("roleName"), "restore"),
    ("'RemoveUserFromGroup'", "group_membership", _req("groupName"), _req("userName"), "remove"),
    ("'AddUserToGroup'", "group_membership", _req("groupName"), _req("userName"), "restore"),
    ("'UpdateAssumeRolePolicy'", "trust_policy", _req("roleName"), "NULL", "remove"),
    ("'DeleteRole'", "iam_role", _req("roleName"), "NULL", "remove"),
    ("'DeletePolicy'", "iam_policy", _req("policyArn"), "NULL", "remove"),
    ("'CreatePolicy'", "iam_policy", "get_json_object(resp, '$.policy.arn')", "NULL", "restore"),
)
_SIMPLE_SQL = "".join(
    f"\n    UNION ALL\n    SELECT ev.*, '{kind}', {target}, {detail}, '{effect}'"
    f"\n    FROM ev WHERE event_name IN ({names})"
    for names, kind, target, detail, effect in _SIMPLE_TARGETS
)

REMEDIATION_SQL = f"""
WITH ev AS (
    SELECT event_id, event_time, event_name, account_id, aws_region AS region, access_key_id,
        principal_arn, request_parameters AS req, response_elements AS resp
    FROM {{events}}
    WHERE error_code IS NULL AND event_name IN ('UpdateAccessKey', 'TerminateInstances',
        'RevokeSecurityGroupIngress', 'AuthorizeSecurityGroupIngress', 'DeleteKeyPair',
        {", ".join(names for names, *_ in _SIMPLE_TARGETS)})
),
revoked AS (
    SELECT ev.*, from_json(req, '{_REVOKED}') AS r FROM ev
    WHERE event_name = 'RevokeSecurityGroupIngress'
),
targets AS (
    SELECT ev.*, 'access_key' AS target_type, {_req("accessKeyId")} AS target_id,
        CAST(NULL AS STRING) AS detail,
        CASE WHEN lower({_req("status")}) = 'inactive' THEN 'remove' ELSE 'restore' END
            AS effect
    FROM ev WHERE event_name = 'UpdateAccessKey'
    UNION ALL
    SELECT ev.*, 'instance', i.instanceId, NULL, 'remove'
    FROM ev LATERAL VIEW explode(from_json(req, '{_TERMINATE}').instancesSet.items) x AS i
    WHERE event_name = 'TerminateInstances'
    UNION ALL
    SELECT ev.*, 'key_pair', k, NULL, 'remove'
    FROM ev LATERAL VIEW explode(array({_req("keyName")}, {_req("keyPairId")})) y AS k
    WHERE event_name = 'DeleteKeyPair'
    UNION ALL
    SELECT event_id, event_time, event_name, account_id, region, access_key_id, principal_arn,
        req, resp, 'security_group', {_req("groupId")}, rule, 'remove'
    FROM revoked LATERAL VIEW explode(concat(
        transform(coalesce(r.securityGroupRuleIds.items, array()), i -> i.securityGroupRuleId),
        {_rules_of("r.ipPermissions.items")},
        CASE WHEN r.cidrIp IS NULL THEN array()
            ELSE array({_rule("r.ipProtocol", "r.fromPort", "r.toPort", "r.cidrIp")}) END
    )) z AS rule
    UNION ALL
    SELECT ev.*, 'security_group', {_req("groupId")}, rule, 'restore'
    FROM ev LATERAL VIEW explode(
        {_rules_of(f"from_json(req, '{_PERMISSIONS}').ipPermissions.items")}) w AS rule
    WHERE event_name = 'AuthorizeSecurityGroupIngress'
    UNION ALL
    SELECT ev.*, 'role', {_req("roleName")}, NULL,
        CASE WHEN event_name = 'PutRolePolicy' THEN 'remove' ELSE 'restore' END
    FROM ev WHERE event_name IN ('PutRolePolicy', 'DeleteRolePolicy')
        AND {_req("policyName")} = 'AWSRevokeOlderSessions'{_SIMPLE_SQL}
)
SELECT {", ".join(REMEDIATION_COLUMNS)}
FROM targets WHERE target_id IS NOT NULL
"""


def mutating() -> Column:
    """True for a call that changes something (see ``MUTATING_SQL``). In: ``read_only``,
    ``event_name``."""
    return F.expr(MUTATING_SQL)


def created_resources(events: DataFrame) -> DataFrame:
    """One row per resource created by a successful call in ``events`` (silver CloudTrail).

    Columns: ``CREATED_COLUMNS``. ``resource_type`` is one of instance, eni, private_ip (parent:
    the instance), security_group, sg_rule (parent: the group), key_pair (id: the key name),
    iam_user, iam_access_key, iam_login_profile, iam_policy, iam_policy_attachment,
    iam_inline_policy (parent: the user) and session (id: the minted session key).
    """
    return events.sparkSession.sql(CREATED_SQL, events=events).select(*CREATED_COLUMNS)


def remediation_calls(events: DataFrame) -> DataFrame:
    """One row per target of a successful call in ``events`` (silver CloudTrail) that removes
    a resource a plan names (``effect = 'remove'``) or brings it back (``'restore'``).

    Columns: ``REMEDIATION_COLUMNS``, with the caller (``access_key_id``, ``principal_arn``) so
    fix tracking can leave out the incident's own identities. ``target_type`` is access_key
    (UpdateAccessKey to Inactive, DeleteAccessKey; to Active restores), instance,
    security_group (``detail``: the rule a RevokeSecurityGroupIngress removes or an
    AuthorizeSecurityGroupIngress adds, as a rule id or ``protocol|from|to|cidr``; NULL for
    DeleteSecurityGroup), key_pair (name or id; ImportKeyPair/CreateKeyPair restore), role
    (AWSRevokeOlderSessions), and the IAM targets of ``_SIMPLE_TARGETS`` (``detail``: the user
    or role a policy or group membership belongs to).
    """
    return events.sparkSession.sql(REMEDIATION_SQL, events=events).select(*REMEDIATION_COLUMNS)
