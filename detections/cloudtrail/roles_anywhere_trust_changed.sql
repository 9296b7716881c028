-- IAM Roles Anywhere trust anchors and profiles created or changed: a trust anchor lets anyone
-- holding a certificate from its CA obtain credentials for the roles its profiles name, from
-- outside AWS. Medium; refused attempts low.
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
    coalesce(
        get_json_object(request_parameters, '$.name'),
        get_json_object(request_parameters, '$.trustAnchorId'),
        get_json_object(request_parameters, '$.profileId'),
        '?'
    ) AS target,
    from_json(get_json_object(request_parameters, '$.roleArns'), 'array<string>') AS role_arns,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', error_code, ')') END AS outcome,
    CASE WHEN error_code IS NULL THEN 'medium' ELSE 'low' END AS severity
FROM cloudtrail_events
WHERE event_source = 'rolesanywhere.amazonaws.com'
    AND event_name IN (
        'CreateTrustAnchor', 'UpdateTrustAnchor', 'EnableTrustAnchor',
        'CreateProfile', 'UpdateProfile', 'EnableProfile'
    )
    AND ua_family NOT IN ('aws-service', 'aws-internal')
    AND event_time >= :window_start AND event_time < :window_end
