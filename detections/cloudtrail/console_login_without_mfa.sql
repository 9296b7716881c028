-- An IAM user signed in to the console with a password alone (MFAUsed "No"), or from a network
-- (ASN) it has not signed in or called from before (no sighting at least :warmup_hours
-- earlier, in the baseline within :baseline_days or the data). Medium; high when both. SSO and
-- federated sign-ins (assumed roles) and root (root_console_login) are not judged here.
WITH logins AS (
    SELECT
        *,
        get_json_object(additional_event_data, '$.MFAUsed') AS mfa_used
    FROM cloudtrail_events
    WHERE event_source = 'signin.amazonaws.com'
        AND event_name = 'ConsoleLogin'
        AND user_identity_type = 'IAMUser'
        AND get_json_object(response_elements, '$.ConsoleLogin') = 'Success'
),

seen_asn AS (
    SELECT actor_arn, src_asn, min(event_time) AS first_at
    FROM cloudtrail_events
    WHERE src_asn IS NOT NULL AND user_identity_type = 'IAMUser'
    GROUP BY actor_arn, src_asn
),

known_asn AS (
    SELECT actor_arn, asn, min(first_seen) AS first_seen
    FROM baseline_principal_asn
    GROUP BY actor_arn, asn
),

history AS (
    SELECT actor_arn, min(first_seen) AS first_seen
    FROM baseline_principal_asn
    GROUP BY actor_arn
),

judged AS (
    SELECT
        l.*,
        l.mfa_used = 'No' AS no_mfa,
        l.src_asn IS NOT NULL
            AND h.first_seen <= timestampadd(HOUR, -:warmup_hours, l.event_time)
            AND coalesce(least(k.first_seen, s.first_at), k.first_seen, s.first_at, l.event_time)
                > timestampadd(HOUR, -:warmup_hours, l.event_time) AS new_asn
    FROM logins AS l
    LEFT JOIN seen_asn AS s ON l.actor_arn = s.actor_arn AND l.src_asn = s.src_asn
    LEFT JOIN known_asn AS k ON l.actor_arn = k.actor_arn AND l.src_asn = k.asn
    LEFT JOIN history AS h ON l.actor_arn = h.actor_arn
    WHERE l.event_time >= :window_start AND l.event_time < :window_end
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
    source_ip,
    concat_ws(' and ',
        CASE WHEN no_mfa THEN 'without MFA' END,
        CASE WHEN new_asn THEN concat('from a new network (AS', src_asn, coalesce(concat(' ', src_as_org), ''), ')') END
    ) AS reason,
    CASE WHEN no_mfa AND new_asn THEN 'high' ELSE 'medium' END AS severity
FROM judged
WHERE no_mfa OR new_asn
