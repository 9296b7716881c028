-- Access to Bedrock foundation models switched on: the model-access use-case form, a model
-- agreement or an entitlement. Attackers with stolen keys enable models to resell or abuse
-- (LLMjacking); in most accounts this happens once, by the team that owns the AI workload.
-- Medium; refused attempts low.
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
    coalesce(get_json_object(request_parameters, '$.modelId'), 'the account') AS model,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', error_code, ')') END AS outcome,
    CASE WHEN error_code IS NULL THEN 'medium' ELSE 'low' END AS severity
FROM cloudtrail_events
WHERE event_source = 'bedrock.amazonaws.com'
    AND event_name IN ('PutUseCaseForModelAccess', 'CreateFoundationModelAgreement', 'PutFoundationModelEntitlement')
    AND ua_family NOT IN ('aws-service', 'aws-internal')
    AND event_time >= :window_start AND event_time < :window_end
