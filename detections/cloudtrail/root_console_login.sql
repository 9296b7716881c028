-- A successful console sign-in as root; critical when MFA was not used.
SELECT
    event_time,
    event_id AS evidence_id,
    source_file,
    record_index,
    account_id,
    aws_region AS region,
    principal_arn,
    source_ip,
    coalesce(get_json_object(additional_event_data, '$.MFAUsed'), 'unknown') AS mfa_used,
    CASE
        WHEN get_json_object(additional_event_data, '$.MFAUsed') = 'Yes' THEN 'high'
        ELSE 'critical'
    END AS severity
FROM cloudtrail_events
WHERE event_name = 'ConsoleLogin'
    AND (is_root OR user_identity_type = 'Root')
    AND get_json_object(response_elements, '$.ConsoleLogin') = 'Success'
    AND event_time >= :window_start AND event_time < :window_end
