-- An EC2 instance's role credentials (an assumed-role session named after the instance,
-- "i-<hex>") used from an address the instance does not call from: an address outside AWS
-- (src_asn known and not one of :aws_asns), or an address that, in the same window, also
-- carried calls signed by another principal that is not an instance session (the operator's
-- own machine), or a second address for the same session beside the one it normally uses.
-- The instance's own calls (SSM agent, SDK on the box) come from one address; stolen
-- credentials come from the thief's. High outside AWS, else medium.
WITH instance_calls AS (
    SELECT
        *,
        regexp_extract(principal_arn, '/(i-[0-9a-fA-F]{8,17})$', 1) AS instance_id,
        floor(unix_seconds(event_time) / :window_seconds) AS bucket
    FROM cloudtrail_events
    WHERE user_identity_type = 'AssumedRole'
        AND principal_arn RLIKE '/i-[0-9a-fA-F]{8,17}$'
        AND source_ip IS NOT NULL
        AND ip_version(source_ip) IS NOT NULL
        AND coalesce(invoked_by, '') = ''
        AND event_time >= :window_start
        AND event_time < :window_end
),

-- Addresses that signed calls for principals other than instance sessions, per window bucket.
others AS (
    SELECT DISTINCT source_ip, floor(unix_seconds(event_time) / :window_seconds) AS bucket
    FROM cloudtrail_events
    WHERE source_ip IS NOT NULL
        AND NOT coalesce(principal_arn RLIKE '/i-[0-9a-fA-F]{8,17}$', FALSE)
        AND user_identity_type IN ('IAMUser', 'AssumedRole', 'FederatedUser', 'Root')
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND event_time >= :window_start
        AND event_time < :window_end
),

-- Per session and bucket: its addresses, and the one it used most (the instance's own).
per_ip AS (
    SELECT principal_arn, bucket, source_ip, count(*) AS calls
    FROM instance_calls
    GROUP BY principal_arn, bucket, source_ip
),

home AS (
    SELECT principal_arn, bucket, max_by(source_ip, struct(calls, source_ip)) AS home_ip, count(*) AS addresses
    FROM per_ip
    GROUP BY principal_arn, bucket
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
    c.instance_id,
    CASE
        WHEN c.src_asn IS NOT NULL AND NOT array_contains(:aws_asns, c.src_asn)
            THEN concat('outside AWS (AS', c.src_asn, ')')
        WHEN o.source_ip IS NOT NULL THEN 'an address other principals also call from'
        ELSE 'a second address'
    END AS reason,
    CASE
        WHEN c.src_asn IS NOT NULL AND NOT array_contains(:aws_asns, c.src_asn) THEN 'high'
        ELSE 'medium'
    END AS severity
FROM instance_calls AS c
LEFT JOIN others AS o ON c.source_ip = o.source_ip AND c.bucket = o.bucket
LEFT JOIN home AS h ON c.principal_arn = h.principal_arn AND c.bucket = h.bucket
WHERE c.event_time >= :window_start AND c.event_time < :window_end
    AND c.source_ip NOT RLIKE '[.]amazonaws[.]com$'
    AND (
        (c.src_asn IS NOT NULL AND NOT array_contains(:aws_asns, c.src_asn))
        OR o.source_ip IS NOT NULL
        OR (h.addresses > 1 AND c.source_ip != h.home_ip)
    )
