-- A long-term access key (AKIA...) used again after :dormant_days or more without use, or used
-- from an ASN it has never used although it has :warmup_hours of history. A key id names one
-- principal's key: events of the same id under another principal (copied examples, the
-- documentation's sample key) are not its earlier use.
WITH keyed AS (
    SELECT
        *,
        lag(event_time) OVER (PARTITION BY access_key_id, principal_arn ORDER BY event_time, event_id) AS prev_in_view,
        min(event_time) OVER (PARTITION BY access_key_id, principal_arn) AS key_first_in_view,
        min(event_time) OVER (PARTITION BY access_key_id, principal_arn, src_asn) AS asn_first_in_view
    FROM cloudtrail_events
    WHERE access_key_id LIKE 'AKIA%'
),

scored AS (
    SELECT
        k.*,
        coalesce(
            k.prev_in_view, CASE WHEN u.last_seen < k.event_time THEN u.last_seen END
        ) AS previous_use,
        least(u.first_seen, k.key_first_in_view)
        <= timestampadd(HOUR, -:warmup_hours, k.event_time) AS has_history,
        k.src_asn IS NOT NULL
        AND least(a.first_seen, k.asn_first_in_view) >= k.event_time AS new_asn
    FROM keyed AS k
    LEFT JOIN baseline_access_key_usage AS u ON k.access_key_id = u.access_key_id
    LEFT JOIN baseline_access_key_asn AS a
        ON k.access_key_id = a.access_key_id AND k.src_asn = a.asn
    WHERE k.event_time >= :window_start AND k.event_time < :window_end
),

flagged AS (
    SELECT
        *,
        CASE
            WHEN previous_use < timestampadd(DAY, -:dormant_days, event_time) THEN 'dormant'
            WHEN has_history AND new_asn THEN 'new_asn'
        END AS anomaly
    FROM scored
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
    anomaly,
    CASE
        WHEN anomaly = 'dormant'
            THEN concat('used after ', datediff(event_time, previous_use), ' days without use')
        ELSE concat('used from new network AS', src_asn, ' (', coalesce(src_as_org, 'unknown'), ')')
    END AS reason,
    CASE WHEN coalesce(src_is_hosting, FALSE) THEN 'high' ELSE 'medium' END AS severity
FROM flagged
WHERE anomaly IS NOT NULL
