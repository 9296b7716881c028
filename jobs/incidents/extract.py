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
        'CreateKeyPair', 'CreateUser', 'CreateAccessKey', 'CreateLoginProfile', 'CreatePolicy',
        'AttachUserPolicy', 'PutUserPolicy', 'AssumeRole', 'GetSessionToken',
        'GetFederationToken')
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
            WHEN 'CreateLoginProfile' THEN 'iam_login_profile'
            WHEN 'CreatePolicy' THEN 'iam_policy'
            WHEN 'AttachUserPolicy' THEN 'iam_policy_attachment'
            ELSE 'iam_inline_policy'
        END AS resource_type,
        CASE event_name
            WHEN 'CreateUser' THEN get_json_object(req, '$.userName')
            WHEN 'CreateAccessKey' THEN get_json_object(resp, '$.accessKey.accessKeyId')
            WHEN 'CreateLoginProfile' THEN get_json_object(req, '$.userName')
            WHEN 'CreatePolicy' THEN get_json_object(resp, '$.policy.arn')
            WHEN 'AttachUserPolicy' THEN get_json_object(req, '$.policyArn')
            ELSE get_json_object(req, '$.policyName')
        END AS resource_id,
        CASE WHEN event_name = 'CreatePolicy' THEN NULL
            ELSE coalesce(get_json_object(req, '$.userName'),
                get_json_object(resp, '$.accessKey.userName'))
        END AS parent_id,
        map('policy_name', coalesce(get_json_object(req, '$.policyName'),
            get_json_object(resp, '$.policy.policyName'))) AS attrs
    FROM ev
    WHERE event_name IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile', 'CreatePolicy',
        'AttachUserPolicy', 'PutUserPolicy')
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
    "target_type",
    "target_id",
)

_TERMINATE = "struct<instancesSet: struct<items: array<struct<instanceId: string>>>>"

REMEDIATION_SQL = f"""
WITH ev AS (
    SELECT event_id, event_time, event_name, account_id, aws_region AS region,
        request_parameters AS req
    FROM {{events}}
    WHERE error_code IS NULL AND event_name IN ('UpdateAccessKey', 'DeleteAccessKey',
        'TerminateInstances', 'RevokeSecurityGroupIngress', 'DeleteSecurityGroup',
        'DeleteKeyPair', 'DeleteUser', 'DetachUserPolicy', 'DeleteUserPolicy', 'DeletePolicy',
        'DeleteLoginProfile', 'PutRolePolicy')
),
targets AS (
    SELECT ev.*, 'access_key' AS target_type, get_json_object(req, '$.accessKeyId') AS target_id
    FROM ev WHERE event_name = 'DeleteAccessKey'
        OR (event_name = 'UpdateAccessKey'
            AND lower(get_json_object(req, '$.status')) = 'inactive')
    UNION ALL
    SELECT ev.*, 'instance', i.instanceId
    FROM ev LATERAL VIEW explode(from_json(req, '{_TERMINATE}').instancesSet.items) x AS i
    WHERE event_name = 'TerminateInstances'
    UNION ALL
    SELECT ev.*, 'security_group', get_json_object(req, '$.groupId')
    FROM ev WHERE event_name IN ('RevokeSecurityGroupIngress', 'DeleteSecurityGroup')
    UNION ALL
    SELECT ev.*, 'key_pair', k
    FROM ev LATERAL VIEW explode(array(get_json_object(req, '$.keyName'),
        get_json_object(req, '$.keyPairId'))) y AS k
    WHERE event_name = 'DeleteKeyPair'
    UNION ALL
    SELECT ev.*, 'iam_user', get_json_object(req, '$.userName')
    FROM ev WHERE event_name IN ('DeleteUser', 'DeleteLoginProfile')
    UNION ALL
    SELECT ev.*, 'iam_policy',
        coalesce(get_json_object(req, '$.policyArn'), get_json_object(req, '$.policyName'))
    FROM ev WHERE event_name IN ('DetachUserPolicy', 'DeleteUserPolicy', 'DeletePolicy')
    UNION ALL
    SELECT ev.*, 'role', get_json_object(req, '$.roleName')
    FROM ev WHERE event_name = 'PutRolePolicy'
        AND get_json_object(req, '$.policyName') = 'AWSRevokeOlderSessions'
)
SELECT event_id, event_time, event_name, account_id, region, target_type, target_id
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
    """One row per target of a successful remediation call in ``events`` (silver CloudTrail).

    Columns: ``REMEDIATION_COLUMNS``; ``target_type`` is access_key (UpdateAccessKey to Inactive,
    DeleteAccessKey), instance, security_group (RevokeSecurityGroupIngress, DeleteSecurityGroup),
    key_pair (name or id), iam_user, iam_policy or role (AWSRevokeOlderSessions).
    """
    return events.sparkSession.sql(REMEDIATION_SQL, events=events).select(*REMEDIATION_COLUMNS)
