-- Root creates an access key for itself (critical), or for an IAM user created in the data before
-- it (high: a new user with keys is a backdoor). Root creating a key for an existing IAM user is
-- low: the root session doing it is already raised by root_console_login (console) or
-- root_access_key_used (API), and iam_user_credentials_created judges keys made for others.
WITH created_users AS (
    SELECT account_id, get_json_object(request_parameters, '$.userName') AS user_name, min(event_time) AS created_at
    FROM cloudtrail_events
    WHERE event_source = 'iam.amazonaws.com' AND event_name = 'CreateUser' AND error_code IS NULL
    GROUP BY 1, 2
)

SELECT
    k.event_time,
    k.event_id AS evidence_id,
    k.source_file,
    k.record_index,
    k.account_id,
    k.aws_region AS region,
    k.principal_arn,
    k.access_key_id,
    k.source_ip,
    get_json_object(k.response_elements, '$.accessKey.accessKeyId') AS new_access_key_id,
    coalesce(get_json_object(k.request_parameters, '$.userName'), 'root') AS key_owner,
    CASE
        WHEN get_json_object(k.request_parameters, '$.userName') IS NULL THEN 'critical'
        WHEN u.created_at <= k.event_time THEN 'high'
        ELSE 'low'
    END AS severity
FROM cloudtrail_events AS k
LEFT JOIN created_users AS u
    ON u.account_id = k.account_id AND u.user_name = get_json_object(k.request_parameters, '$.userName')
WHERE k.event_source = 'iam.amazonaws.com'
    AND k.event_name = 'CreateAccessKey'
    AND (k.is_root OR k.user_identity_type = 'Root')
    AND k.error_code IS NULL
    AND k.event_time >= :window_start AND k.event_time < :window_end
