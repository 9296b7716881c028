-- A bucket opened to another account or to everyone: PutBucketPolicy with an Allow statement
-- whose principal is "*" (without a Condition narrowing it) or an outside account, or
-- PutBucketAcl granting AllUsers / AuthenticatedUsers. "Outside" is an account that is not the
-- event's account and not one of :trusted_accounts. High (critical when public); refused
-- attempts medium.
WITH calls AS (
    SELECT
        *,
        coalesce(recipient_account_id, account_id) AS owner_account,
        get_json_object(request_parameters, '$.bucketName') AS bucket,
        get_json_object(request_parameters, '$.bucketPolicy') AS policy
    FROM cloudtrail_events
    WHERE event_source = 's3.amazonaws.com'
        AND event_name IN ('PutBucketPolicy', 'PutBucketAcl')
        AND event_time >= :window_start AND event_time < :window_end
),

stmts AS (
    SELECT
        *,
        coalesce(
            from_json(policy, 'struct<Statement:array<string>>').Statement,
            array(get_json_object(policy, '$.Statement'))
        ) AS statements
    FROM calls
),

grants AS (
    SELECT
        *,
        array_distinct(flatten(transform(
            filter(statements, s -> get_json_object(s, '$.Effect') = 'Allow'),
            s -> filter(
                concat(
                    CASE
                        WHEN get_json_object(s, '$.Condition') IS NULL
                            AND (get_json_object(s, '$.Principal') = '*'
                                OR get_json_object(s, '$.Principal.AWS') RLIKE '(^|")\\*("|$)')
                            THEN array('*')
                        ELSE array()
                    END,
                    regexp_extract_all(coalesce(get_json_object(s, '$.Principal.AWS'), ''), '([0-9]{12})', 1)
                ),
                a -> a = '*' OR (a != owner_account AND NOT array_contains(split(:trusted_accounts, ','), a))
            )
        ))) AS policy_grantees,
        CASE WHEN event_name = 'PutBucketAcl' THEN array_distinct(regexp_extract_all(
            request_parameters, 'acs[.]amazonaws[.]com/groups/global/(AllUsers|AuthenticatedUsers)', 1
        )) END AS acl_groups
    FROM stmts
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
    filter(policy_grantees, a -> a RLIKE '^[0-9]{12}$') AS grantee_accounts,
    bucket,
    CASE
        WHEN array_contains(policy_grantees, '*') OR size(acl_groups) > 0 THEN 'everyone (public)'
        ELSE array_join(policy_grantees, ', ')
    END AS grantee_list,
    CASE WHEN error_code IS NULL THEN 'opened to' ELSE concat('attempted to open (refused: ', error_code, ') to') END AS outcome,
    CASE
        WHEN error_code IS NOT NULL THEN 'low'
        WHEN array_contains(policy_grantees, '*') OR size(acl_groups) > 0 THEN 'critical'
        ELSE 'high'
    END AS severity
FROM grants
WHERE size(policy_grantees) > 0 OR size(acl_groups) > 0
