-- Discovery: one principal makes many distinct read-only calls across many services within
-- :enum_bucket_seconds, or many refused (AccessDenied / UnauthorizedOperation) reads.
WITH reads AS (
    SELECT
        *,
        floor(unix_seconds(event_time) / :enum_bucket_seconds) AS bucket,
        coalesce(
            error_code RLIKE '(?i)(AccessDenied|UnauthorizedOperation|Unauthorized|Forbidden)', FALSE
        ) AS denied
    FROM cloudtrail_events
    WHERE actor_arn IS NOT NULL
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
