-- A principal with :warmup_hours of history calls AWS through a programmatic user-agent family
-- (aws-sdk-go, boto3, aws-cli, terraform, ...) it has not used within :baseline_days.
WITH calls AS (
    SELECT *
    FROM cloudtrail_events
    WHERE actor_arn IS NOT NULL
        AND ua_family NOT IN ('console', 'aws-service', 'aws-internal', 'unknown')
),

view_family AS (
    SELECT actor_arn, ua_family, min(event_time) AS first_at
    FROM calls
    GROUP BY actor_arn, ua_family
),

view_actor AS (
    SELECT actor_arn, min(event_time) AS first_at
    FROM cloudtrail_events
    GROUP BY actor_arn
),

base_actor AS (
    SELECT actor_arn, min(first_seen) AS first_seen
    FROM baseline_principal_user_agent
    GROUP BY actor_arn
)

SELECT
    c.event_time,
    c.event_id AS evidence_id,
    c.source_file,
    c.record_index,
    c.account_id,
    c.aws_region AS region,
    c.principal_arn,
    c.actor_arn,
    c.access_key_id,
    c.source_ip,
    c.ua_family,
    c.user_agent,
    CASE WHEN coalesce(c.src_is_hosting, FALSE) THEN 'high' ELSE 'medium' END AS severity
FROM calls AS c
INNER JOIN view_family AS vf ON c.actor_arn = vf.actor_arn AND c.ua_family = vf.ua_family
LEFT JOIN view_actor AS va ON c.actor_arn = va.actor_arn
LEFT JOIN base_actor AS ba ON c.actor_arn = ba.actor_arn
LEFT JOIN baseline_principal_user_agent AS b
    ON c.actor_arn = b.actor_arn
    AND c.ua_family = b.ua_family
    AND b.last_seen >= timestampadd(DAY, -:baseline_days, c.event_time)
WHERE least(b.first_seen, vf.first_at) >= c.event_time
    AND least(ba.first_seen, va.first_at) <= timestampadd(HOUR, -:warmup_hours, c.event_time)
    AND c.event_time >= :window_start AND c.event_time < :window_end
