-- A refused call to a sensitive write API (:sensitive_calls, "source:Name") by a principal that
-- has not made that call successfully before (at least :warmup_hours earlier, in the baseline
-- within :baseline_days or the data). A stolen key being probed for what it may do looks like
-- this: CreateUser, AttachUserPolicy, PutBucketPolicy or DeleteDetector, refused. Medium when
-- the principal has :warmup_hours of history (so "not normally" means something); low for a
-- principal the data has just met (a first run, a new role): there a lone refusal looks the same
-- as a missing permission.
WITH refused AS (
    SELECT
        *,
        concat(regexp_extract(event_source, '^([^.]+)', 1), ':', event_name) AS call,
        concat(event_source, ':', event_name) AS event_key
    FROM cloudtrail_events
    WHERE error_code RLIKE :denied_errors
        AND actor_arn IS NOT NULL
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND array_contains(:sensitive_calls, concat(regexp_extract(event_source, '^([^.]+)', 1), ':', event_name))
        AND event_time >= :window_start AND event_time < :window_end
),

seen AS (
    SELECT actor_arn, concat(event_source, ':', event_name) AS event_key, min(event_time) AS first_at
    FROM cloudtrail_events
    WHERE error_code IS NULL
        AND array_contains(:sensitive_calls, concat(regexp_extract(event_source, '^([^.]+)', 1), ':', event_name))
    GROUP BY 1, 2
),

known AS (
    SELECT actor_arn, event_key, min(first_seen) AS first_seen
    FROM baseline_principal_event
    WHERE last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
    GROUP BY actor_arn, event_key
),

actor_history AS (
    SELECT actor_arn, min(first_at) AS first_at
    FROM (
        SELECT actor_arn, min(first_seen) AS first_at FROM baseline_principal_event GROUP BY actor_arn
        UNION ALL
        SELECT actor_arn, min(event_time) AS first_at FROM cloudtrail_events GROUP BY actor_arn
    ) AS h
    GROUP BY actor_arn
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
    r.call,
    r.error_code,
    CASE
        WHEN h.first_at <= timestampadd(HOUR, -:warmup_hours, r.event_time) THEN 'medium'
        ELSE 'low'
    END AS severity
FROM refused AS r
LEFT JOIN seen AS s ON r.actor_arn = s.actor_arn AND r.event_key = s.event_key
LEFT JOIN known AS k ON r.actor_arn = k.actor_arn AND r.event_key = k.event_key
LEFT JOIN actor_history AS h ON r.actor_arn = h.actor_arn
WHERE coalesce(least(k.first_seen, s.first_at), k.first_seen, s.first_at, r.event_time)
    > timestampadd(HOUR, -:warmup_hours, r.event_time)
