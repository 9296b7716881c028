-- Administrator rights granted to a user, group or role: a managed policy from
-- :admin_policy_names attached, or an inline policy / new default policy version that allows
-- every action (or every IAM action) on every resource. Refused calls are attempts: the title
-- says so and the severity is one step lower.
WITH grants AS (
    SELECT
        *,
        coalesce(
            get_json_object(request_parameters, '$.userName'),
            get_json_object(request_parameters, '$.roleName'),
            get_json_object(request_parameters, '$.groupName'),
            get_json_object(request_parameters, '$.policyArn')
        ) AS target,
        CASE
            WHEN event_name RLIKE 'User' THEN 'user'
            WHEN event_name RLIKE 'Role' THEN 'role'
            WHEN event_name RLIKE 'Group' THEN 'group'
            ELSE 'policy'
        END AS target_kind,
        get_json_object(request_parameters, '$.policyArn') AS policy_arn,
        coalesce(
            get_json_object(request_parameters, '$.policyDocument'),
            get_json_object(request_parameters, '$.policyName')
        ) AS policy_text
    FROM cloudtrail_events
    WHERE event_source = 'iam.amazonaws.com'
        AND event_name IN (
            'AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy',
            'PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy', 'CreatePolicyVersion'
        )
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND event_time >= :window_start AND event_time < :window_end
),

statements AS (
    SELECT
        *,
        -- The inline document's statements as JSON texts (Statement may be one object).
        coalesce(
            from_json(get_json_object(request_parameters, '$.policyDocument'), 'struct<Statement:array<string>>').Statement,
            array(get_json_object(get_json_object(request_parameters, '$.policyDocument'), '$.Statement'))
        ) AS stmts
    FROM grants
),

judged AS (
    SELECT
        *,
        CASE
            WHEN policy_arn IS NOT NULL AND event_name LIKE 'Attach%'
                THEN exists(:admin_policy_names, n -> policy_arn RLIKE concat('(?i):policy/(.*/)?', n, '$'))
            ELSE exists(
                stmts,
                s -> coalesce(get_json_object(s, '$.Effect'), '') = 'Allow'
                    AND get_json_object(s, '$.NotAction') IS NULL
                    AND get_json_object(s, '$.Action') RLIKE '^(\\[\\s*)?"?(\\*|iam:\\*)"?'
                    AND (get_json_object(s, '$.Resource') RLIKE '^(\\[\\s*)?"?\\*"?'
                        OR get_json_object(s, '$.Resource') IS NULL)
            )
        END AS is_admin
    FROM statements
)

SELECT
    event_time,
    event_id AS evidence_id,
    source_file,
    record_index,
    account_id,
    aws_region AS region,
    principal_arn,
    actor_arn,
    access_key_id,
    source_ip,
    event_name,
    target,
    CASE WHEN target_kind = 'user' THEN target END AS target_user,
    CASE WHEN target_kind = 'role' THEN target END AS target_role,
    coalesce(regexp_extract(policy_arn, '[^/]+$', 0), 'an inline policy allowing *') AS policy,
    CASE WHEN error_code IS NULL THEN 'granted' ELSE concat('attempted (refused: ', error_code, ')') END AS outcome,
    CASE WHEN error_code IS NULL THEN 'high' ELSE 'medium' END AS severity
FROM judged
WHERE is_admin
