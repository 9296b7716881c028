-- Root creates an access key for itself (critical). Root creating a key for an IAM user is
-- low: the root session doing it is already raised by root_console_login (console) or
-- root_access_key_used (API), and iam_user_credentials_created judges keys made for others.
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
    get_json_object(response_elements, '$.accessKey.accessKeyId') AS new_access_key_id,
    coalesce(get_json_object(request_parameters, '$.userName'), 'root') AS key_owner,
    CASE
        WHEN get_json_object(request_parameters, '$.userName') IS NULL THEN 'critical'
        ELSE 'low'
    END AS severity
FROM cloudtrail_events
WHERE event_source = 'iam.amazonaws.com'
    AND event_name = 'CreateAccessKey'
    AND (is_root OR user_identity_type = 'Root')
    AND error_code IS NULL
    AND event_time >= :window_start AND event_time < :window_end
