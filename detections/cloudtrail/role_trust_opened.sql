-- A role's trust policy opened to an outside account or to everyone: UpdateAssumeRolePolicy, or
-- CreateRole with such a trust policy. "Outside" is a 12-digit account that is not the account
-- the event was recorded in and not one of :trusted_accounts (comma-separated). High; medium
-- when the statement carries a Condition (the usual external-id vendor pattern) and for
-- refused attempts.
WITH calls AS (
    SELECT
        *,
        coalesce(recipient_account_id, account_id) AS owner_account,
        coalesce(
            get_json_object(request_parameters, '$.policyDocument'),
            get_json_object(request_parameters, '$.assumeRolePolicyDocument')
        ) AS doc
    FROM cloudtrail_events
    WHERE event_source = 'iam.amazonaws.com'
        AND event_name IN ('UpdateAssumeRolePolicy', 'CreateRole')
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND event_time >= :window_start AND event_time < :window_end
),

stmts AS (
    SELECT
        *,
        explode(coalesce(
            from_json(doc, 'struct<Statement:array<string>>').Statement,
            array(get_json_object(doc, '$.Statement'))
        )) AS stmt
    FROM calls
),

principals AS (
    SELECT
        *,
        get_json_object(stmt, '$.Principal') AS principal_text,
        get_json_object(stmt, '$.Condition') IS NOT NULL AS has_condition
    FROM stmts
    WHERE get_json_object(stmt, '$.Effect') = 'Allow'
),

outside AS (
    SELECT
        *,
        array_distinct(filter(
            concat(
                CASE WHEN principal_text = '*' THEN array('*') ELSE array() END,
                regexp_extract_all(coalesce(get_json_object(principal_text, '$.AWS'), ''), '(\\*|[0-9]{12})', 1)
            ),
            a -> a = '*' OR (a != owner_account AND NOT array_contains(split(:trusted_accounts, ','), a))
        )) AS grantees
    FROM principals
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
    filter(grantees, a -> a RLIKE '^[0-9]{12}$') AS grantee_accounts,
    get_json_object(request_parameters, '$.roleName') AS target_role,
    array_join(grantees, ', ') AS grantee_list,
    CASE WHEN event_name = 'CreateRole' THEN 'New role' ELSE 'Role' END AS what,
    CASE WHEN error_code IS NULL THEN 'trusts' ELSE concat('attempted to trust (refused: ', error_code, ')') END AS outcome,
    CASE WHEN error_code IS NULL AND NOT has_condition THEN 'high' ELSE 'medium' END AS severity
FROM outside
WHERE size(grantees) > 0
