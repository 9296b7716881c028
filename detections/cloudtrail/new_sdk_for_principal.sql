-- A principal with :warmup_hours of history calls AWS through a programmatic user-agent family
-- (aws-sdk-go, boto3, aws-cli, terraform, ...) it has not used within :baseline_days. History
-- and earlier use count only within :baseline_days (as the baselines forget): a principal back
-- after a longer silence is judged as new, not against what it did years ago.
WITH activity AS (
    SELECT
        *,
        lag(event_time) OVER (PARTITION BY actor_arn ORDER BY event_time, event_id) AS prev_at,
        lag(event_time) OVER (PARTITION BY actor_arn, ua_family ORDER BY event_time, event_id) AS prev_family_at
    FROM cloudtrail_events
    WHERE actor_arn IS NOT NULL
),

runs AS (
    SELECT
        *,
        -- The start of the principal's activity without a silence longer than :baseline_days.
        max(CASE WHEN prev_at IS NULL OR prev_at < timestampadd(DAY, -:baseline_days, event_time) THEN event_time END)
            OVER (PARTITION BY actor_arn ORDER BY event_time, event_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            AS active_since
    FROM activity
),

base_actor AS (
    SELECT actor_arn, min(first_seen) AS first_seen
    FROM baseline_principal_user_agent
    WHERE last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
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
FROM runs AS c
LEFT JOIN base_actor AS ba ON c.actor_arn = ba.actor_arn
LEFT JOIN baseline_principal_user_agent AS b
    ON c.actor_arn = b.actor_arn
    AND c.ua_family = b.ua_family
    AND b.last_seen >= timestampadd(DAY, -:baseline_days, c.event_time)
WHERE c.ua_family NOT IN ('console', 'aws-service', 'aws-internal', 'unknown')
    AND coalesce(b.first_seen >= c.event_time, TRUE)
    AND coalesce(c.prev_family_at < timestampadd(DAY, -:baseline_days, c.event_time), TRUE)
    AND least(ba.first_seen, c.active_since) <= timestampadd(HOUR, -:warmup_hours, c.event_time)
    AND c.event_time >= :window_start AND c.event_time < :window_end
