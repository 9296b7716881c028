-- GuardDuty findings of the crypto-mining, credential-compromise, root-usage and related
-- families (:finding_type_patterns), passed through with GuardDuty's own severity band.
WITH latest AS (
    SELECT
        *,
        row_number() OVER (PARTITION BY finding_id ORDER BY updated_at DESC) AS version_rank
    FROM guardduty_findings
)

SELECT
    coalesce(first_seen, updated_at) AS event_time,
    finding_id AS evidence_id,
    source_file,
    record_index,
    account_id,
    region,
    access_key_id,
    remote_ip AS source_ip,
    finding_id,
    finding_type,
    title AS finding_title,
    instance_id,
    user_name,
    remote_ip,
    dns_domain,
    detector_id,
    CASE
        WHEN severity >= 9 THEN 'critical'
        WHEN severity >= 7 THEN 'high'
        WHEN severity >= 4 THEN 'medium'
        ELSE 'low'
    END AS severity
FROM latest
WHERE version_rank = 1
    AND lower(coalesce(archived, 'false')) <> 'true'
    AND exists(:finding_type_patterns, p -> finding_type LIKE p)
    AND coalesce(first_seen, updated_at) >= :window_start
    AND coalesce(first_seen, updated_at) < :window_end
