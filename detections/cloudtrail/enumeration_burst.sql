-- Discovery: one principal makes many distinct read-only calls across many services within
-- :enum_bucket_seconds, or many refused (AccessDenied / UnauthorizedOperation) reads. A refused
-- sts:AssumeRole of a role created within :role_propagation_seconds before is the caller waiting
-- for IAM to propagate the new role's trust, not probing: it is not counted. The role is matched
-- by ARN, or, when the event does not record the request (requestParameters null), by the
-- caller having created a role itself in those seconds.
WITH new_roles AS (
    SELECT
        actor_arn AS creator,
        lower(coalesce(
            get_json_object(response_elements, '$.role.arn'),
            concat('arn:aws:iam::', coalesce(recipient_account_id, account_id), ':role',
                coalesce(get_json_object(request_parameters, '$.path'), '/'),
                get_json_object(request_parameters, '$.roleName'))
        )) AS role_arn,
        event_time AS created_at
    FROM cloudtrail_events
    WHERE event_source = 'iam.amazonaws.com' AND event_name = 'CreateRole' AND error_code IS NULL
        AND event_time >= timestampadd(
            SECOND, -(:enum_bucket_seconds + :role_propagation_seconds), :window_start
        )
        AND event_time < :window_end
),

retries AS (
    SELECT DISTINCT a.event_id
    FROM cloudtrail_events AS a
    INNER JOIN new_roles AS n
        ON (
            lower(get_json_object(a.request_parameters, '$.roleArn')) = n.role_arn
            OR (get_json_object(a.request_parameters, '$.roleArn') IS NULL AND a.actor_arn = n.creator)
        )
        AND a.event_time >= n.created_at
        AND a.event_time <= timestampadd(SECOND, :role_propagation_seconds, n.created_at)
    WHERE a.event_source = 'sts.amazonaws.com' AND a.event_name = 'AssumeRole'
        AND a.error_code IS NOT NULL
        AND a.event_time >= timestampadd(SECOND, -:enum_bucket_seconds, :window_start)
        AND a.event_time < :window_end
),

reads AS (
    SELECT
        *,
        floor(unix_seconds(event_time) / :enum_bucket_seconds) AS bucket,
        coalesce(
            error_code RLIKE '(?i)(AccessDenied|UnauthorizedOperation|Unauthorized|Forbidden)', FALSE
        ) AS denied
    FROM cloudtrail_events
    WHERE actor_arn IS NOT NULL
        AND event_id NOT IN (SELECT event_id FROM retries)
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND (read_only OR event_name RLIKE '^(Describe|List|Get|Head|Search|Lookup)')
        AND event_time >= timestampadd(SECOND, -:enum_bucket_seconds, :window_start)
        AND event_time < :window_end
),

bursts AS (
    SELECT
        actor_arn,
        bucket,
        count(DISTINCT event_source, event_name) AS distinct_calls,
        count(DISTINCT event_source) AS services,
        count_if(denied) AS denied_calls
    FROM reads
    GROUP BY actor_arn, bucket
    HAVING (count(DISTINCT event_source, event_name) >= :enum_min_calls
        AND count(DISTINCT event_source) >= :enum_min_services)
    OR count_if(denied) >= :enum_min_denied
)

SELECT
    r.event_time,
    r.event_id AS evidence_id,
    r.source_file,
    r.record_index,
    r.account_id,
    r.aws_region AS region,
    r.principal_arn,
    r.actor_arn,
    r.access_key_id,
    r.source_ip,
    b.distinct_calls,
    b.services,
    b.denied_calls,
    CASE WHEN b.denied_calls >= :enum_min_denied THEN 'high' ELSE 'medium' END AS severity
FROM reads AS r
INNER JOIN bursts AS b ON r.actor_arn = b.actor_arn AND r.bucket = b.bucket
WHERE r.event_time >= :window_start
