-- sts:GetFederationToken called with an IAM user's long-term access key. The temporary
-- credentials outlive a deleted or rotated key (up to 36 hours), so attackers use it to keep
-- access; few workloads call it. Medium; a refused attempt is low.
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
    coalesce(get_json_object(request_parameters, '$.name'), '?') AS federated_name,
    get_json_object(response_elements, '$.credentials.accessKeyId') AS issued_key,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', error_code, ')') END AS outcome,
    CASE WHEN error_code IS NULL THEN 'medium' ELSE 'low' END AS severity
FROM cloudtrail_events
WHERE event_source = 'sts.amazonaws.com'
    AND event_name = 'GetFederationToken'
    AND (user_identity_type = 'IAMUser' OR access_key_id LIKE 'AKIA%')
    AND event_time >= :window_start AND event_time < :window_end
