-- EC2 GetPasswordData (the encrypted Windows administrator password) by a principal that has
-- not retrieved one before (no successful call at least :warmup_hours earlier, in the baseline
-- within :baseline_days or the data): medium. Refused calls are attempts: low, medium when one
-- principal makes :password_data_min_refused or more in a window (a sweep over instances).
WITH calls AS (
    SELECT *, floor(unix_seconds(event_time) / :window_seconds) AS bucket
    FROM cloudtrail_events
    WHERE event_source = 'ec2.amazonaws.com' AND event_name = 'GetPasswordData'
        AND actor_arn IS NOT NULL
        AND ua_family NOT IN ('aws-service', 'aws-internal')
),

seen AS (
    SELECT actor_arn, min(event_time) AS first_at FROM calls WHERE error_code IS NULL GROUP BY actor_arn
),

known AS (
    SELECT actor_arn, min(first_seen) AS first_seen
    FROM baseline_principal_event
    WHERE event_key = 'ec2.amazonaws.com:GetPasswordData'
        AND last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
    GROUP BY actor_arn
),

judged AS (
    SELECT
        c.*,
        count_if(c.error_code IS NOT NULL) OVER (PARTITION BY c.actor_arn, c.bucket) AS refused_calls,
        size(collect_set(get_json_object(c.request_parameters, '$.instanceId'))
            OVER (PARTITION BY c.actor_arn, c.bucket)) AS instances,
        coalesce(least(k.first_seen, s.first_at), k.first_seen, s.first_at, c.event_time)
            > timestampadd(HOUR, -:warmup_hours, c.event_time) AS new_for_actor
    FROM calls AS c
    LEFT JOIN seen AS s ON c.actor_arn = s.actor_arn
    LEFT JOIN known AS k ON c.actor_arn = k.actor_arn
    WHERE c.event_time >= :window_start AND c.event_time < :window_end
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
    instances,
    get_json_object(request_parameters, '$.instanceId') AS instance_id,
    CASE WHEN error_code IS NULL THEN 'retrieved' ELSE 'attempted (refused)' END AS outcome,
    CASE
        WHEN error_code IS NULL THEN 'medium'
        WHEN refused_calls >= :password_data_min_refused THEN 'medium'
        ELSE 'low'
    END AS severity
FROM judged
WHERE new_for_actor
