-- Users, access keys and console passwords created or changed for another IAM user:
-- CreateUser, CreateAccessKey, CreateLoginProfile and UpdateLoginProfile whose userName is not
-- the caller's own. Keys and passwords for someone else are a classic backdoor (medium); a
-- new user alone is routine administration (low). Refused calls are attempts, one step lower.
SELECT
    event_time,
    event_id AS evidence_id,
    source_file,
    record_index,
    account_id,
    aws_region AS region,
    principal_arn,
    actor_arn,
    access_key_id,
    source_ip,
    event_name,
    get_json_object(request_parameters, '$.userName') AS target_user,
    CASE event_name
        WHEN 'CreateUser' THEN 'user created'
        WHEN 'CreateAccessKey' THEN 'access key created'
        WHEN 'CreateLoginProfile' THEN 'console password created'
        ELSE 'console password changed'
    END AS change,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', error_code, ')') END AS outcome,
    CASE
        WHEN event_name = 'CreateUser' THEN CASE WHEN error_code IS NULL THEN 'low' ELSE 'info' END
        WHEN error_code IS NULL THEN 'medium'
        ELSE 'low'
    END AS severity
FROM cloudtrail_events
WHERE event_source = 'iam.amazonaws.com'
    AND event_name IN ('CreateUser', 'CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile')
    AND ua_family NOT IN ('aws-service', 'aws-internal')
    AND coalesce(is_root, FALSE) = FALSE
    AND get_json_object(request_parameters, '$.userName') IS NOT NULL
    -- A user managing its own key or password is not a backdoor.
    AND NOT (
        user_identity_type = 'IAMUser'
        AND get_json_object(request_parameters, '$.userName') = coalesce(user_name, regexp_extract(principal_arn, '[^/]+$', 0))
    )
    AND event_time >= :window_start AND event_time < :window_end
