-- Log storage shortened or opened: a bucket lifecycle rule that expires objects after
-- :log_expiry_max_days days or fewer (medium; high on a bucket a trail delivers to), and a
-- trail bucket's policy deleted. Trail buckets are the s3BucketName of CreateTrail /
-- UpdateTrail calls in the trail_bucket baseline (within :baseline_days) or the evaluated data. Refused calls are attempts, one step lower.
WITH trail_buckets AS (
    SELECT DISTINCT bucket
    FROM baseline_trail_bucket
    WHERE last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
    UNION
    SELECT get_json_object(request_parameters, '$.s3BucketName') AS bucket
    FROM cloudtrail_events
    WHERE event_source = 'cloudtrail.amazonaws.com'
        AND event_name IN ('CreateTrail', 'UpdateTrail')
        AND error_code IS NULL
        AND get_json_object(request_parameters, '$.s3BucketName') IS NOT NULL
        AND event_time < :window_end
),

calls AS (
    SELECT
        *,
        get_json_object(request_parameters, '$.bucketName') AS bucket,
        array_min(transform(
            regexp_extract_all(
                coalesce(get_json_object(request_parameters, '$.LifecycleConfiguration'), ''),
                '"Expiration"\\s*:\\s*\\{[^}]*"Days"\\s*:\\s*"?([0-9]+)', 1
            ),
            d -> CAST(d AS int)
        )) AS expiry_days
    FROM cloudtrail_events
    WHERE event_source = 's3.amazonaws.com'
        AND event_name IN ('PutBucketLifecycle', 'PutBucketLifecycleConfiguration', 'DeleteBucketPolicy')
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND event_time >= :window_start AND event_time < :window_end
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
    c.event_name,
    c.bucket,
    CASE
        WHEN c.event_name = 'DeleteBucketPolicy' THEN 'Trail bucket policy deleted'
        ELSE concat('Objects set to expire after ', c.expiry_days, ' day(s)')
    END AS change,
    CASE WHEN t.bucket IS NOT NULL THEN ' (a trail bucket)' ELSE '' END AS trail_note,
    CASE WHEN c.error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', c.error_code, ')') END AS outcome,
    CASE
        WHEN t.bucket IS NOT NULL AND c.error_code IS NULL THEN 'high'
        WHEN c.error_code IS NULL OR t.bucket IS NOT NULL THEN 'medium'
        ELSE 'low'
    END AS severity
FROM calls AS c
LEFT JOIN trail_buckets AS t ON c.bucket = t.bucket
WHERE (c.event_name LIKE 'PutBucketLifecycle%' AND c.expiry_days <= :log_expiry_max_days)
    OR (c.event_name = 'DeleteBucketPolicy' AND t.bucket IS NOT NULL)
