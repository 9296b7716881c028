-- Root's long-term access key (AKIA...) used programmatically: SDK, CLI, Terraform, scripts.
-- Critical from a hosting-provider network or from a source IP root has not used before.
WITH calls AS (
    SELECT *
    FROM cloudtrail_events
    WHERE is_root
        AND access_key_id LIKE 'AKIA%'
        AND ua_family NOT IN ('console', 'aws-service', 'aws-internal')
),

view_first AS (
    SELECT actor_arn, source_ip, min(event_time) AS first_at
    FROM calls
    GROUP BY actor_arn, source_ip
)

SELECT
    c.event_time,
    c.event_id AS evidence_id,
    c.source_file,
    c.record_index,
    c.account_id,
    c.aws_region AS region,
    c.principal_arn,
    c.access_key_id,
    c.source_ip,
    c.ua_family,
    c.src_as_org,
    CASE
        WHEN coalesce(c.src_is_hosting, FALSE) THEN 'critical'
        WHEN least(b.first_seen, v.first_at) >= c.event_time THEN 'critical'
        ELSE 'high'
    END AS severity
FROM calls AS c
LEFT JOIN view_first AS v
    ON c.actor_arn = v.actor_arn AND c.source_ip = v.source_ip
LEFT JOIN baseline_principal_ip AS b
    ON c.actor_arn = b.actor_arn
    AND c.source_ip = b.source_ip
    AND b.last_seen >= timestampadd(DAY, -:baseline_days, c.event_time)
WHERE c.event_time >= :window_start AND c.event_time < :window_end
