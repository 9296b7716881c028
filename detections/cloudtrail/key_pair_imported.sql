-- ImportKeyPair / CreateKeyPair by root (high), or by a principal with history from a network
-- (ASN, or source IP when the ASN is unknown) it has not used within :baseline_days (medium,
-- high from a hosting provider).
WITH calls AS (
    SELECT *
    FROM cloudtrail_events
    WHERE event_source = 'ec2.amazonaws.com'
        AND event_name IN ('ImportKeyPair', 'CreateKeyPair')
        AND error_code IS NULL
        AND event_time >= :window_start AND event_time < :window_end
),

view_actor AS (
    SELECT actor_arn, min(event_time) AS first_at
    FROM cloudtrail_events
    GROUP BY actor_arn
),

view_ip AS (
    SELECT actor_arn, source_ip, min(event_time) AS first_at
    FROM cloudtrail_events
    GROUP BY actor_arn, source_ip
),

view_asn AS (
    SELECT actor_arn, src_asn, min(event_time) AS first_at
    FROM cloudtrail_events
    WHERE src_asn IS NOT NULL
    GROUP BY actor_arn, src_asn
),

base_actor AS (
    SELECT actor_arn, min(first_seen) AS first_seen
    FROM baseline_principal_ip
    GROUP BY actor_arn
),

scored AS (
    SELECT
        c.*,
        least(ba.first_seen, va.first_at)
        <= timestampadd(HOUR, -:warmup_hours, c.event_time) AS has_history,
        CASE
            WHEN c.src_asn IS NOT NULL THEN least(bn.first_seen, vn.first_at) >= c.event_time
            ELSE least(bi.first_seen, vi.first_at) >= c.event_time
        END AS new_network
    FROM calls AS c
    LEFT JOIN view_actor AS va ON c.actor_arn = va.actor_arn
    LEFT JOIN base_actor AS ba ON c.actor_arn = ba.actor_arn
    LEFT JOIN view_ip AS vi ON c.actor_arn = vi.actor_arn AND c.source_ip = vi.source_ip
    LEFT JOIN view_asn AS vn ON c.actor_arn = vn.actor_arn AND c.src_asn = vn.src_asn
    LEFT JOIN baseline_principal_ip AS bi
        ON c.actor_arn = bi.actor_arn
        AND c.source_ip = bi.source_ip
        AND bi.last_seen >= timestampadd(DAY, -:baseline_days, c.event_time)
    LEFT JOIN baseline_principal_asn AS bn
        ON c.actor_arn = bn.actor_arn
        AND c.src_asn = bn.asn
        AND bn.last_seen >= timestampadd(DAY, -:baseline_days, c.event_time)
)

SELECT
    event_time,
    event_id AS evidence_id,
    source_file,
    record_index,
    account_id,
    aws_region AS region,
    principal_arn,
    access_key_id,
    source_ip,
    event_name,
    get_json_object(request_parameters, '$.keyName') AS key_name,
    get_json_object(response_elements, '$.keyPairId') AS key_pair_id,
    CASE
        WHEN is_root THEN 'high'
        WHEN coalesce(src_is_hosting, FALSE) THEN 'high'
        ELSE 'medium'
    END AS severity
FROM scored
WHERE is_root OR (coalesce(has_history, FALSE) AND coalesce(new_network, FALSE))
