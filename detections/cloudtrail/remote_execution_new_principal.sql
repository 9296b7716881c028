-- Code run on or keys pushed to instances by a principal that has not done so before: SSM
-- SendCommand / StartSession, EC2 Instance Connect SendSSHPublicKey and
-- SendSerialConsoleSSHPublicKey, EnableSerialConsoleAccess, and ModifyInstanceAttribute that sets
-- user data. "Before" means a successful call of the same API by the same principal (role for
-- role sessions) at least :warmup_hours earlier, in the baseline (within :baseline_days) or in
-- the evaluated data. High. A call that was allowed but failed (the instance not ready or not
-- managed) is a retry away from running: medium, "attempted". A denied call (AccessDenied,
-- UnauthorizedOperation) shows a credential that may not do it, which alone does not tell a
-- probe from a missing permission: low (sensitive_call_refused judges denials against history).
WITH calls AS (
    SELECT
        *,
        concat(event_source, ':', event_name) AS event_key
    FROM cloudtrail_events
    WHERE actor_arn IS NOT NULL
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND coalesce(invoked_by, '') = ''
        AND (
            (event_source = 'ssm.amazonaws.com' AND event_name IN ('SendCommand', 'StartSession'))
            OR (event_source = 'ec2-instance-connect.amazonaws.com'
                AND event_name IN ('SendSSHPublicKey', 'SendSerialConsoleSSHPublicKey'))
            OR (event_source = 'ec2.amazonaws.com' AND event_name = 'EnableSerialConsoleAccess')
            OR (event_source = 'ec2.amazonaws.com' AND event_name = 'ModifyInstanceAttribute'
                AND (get_json_object(request_parameters, '$.userData') IS NOT NULL
                    OR get_json_object(request_parameters, '$.attribute') = 'userData'))
        )
),

seen AS (
    SELECT actor_arn, event_key, min(event_time) AS first_at
    FROM calls
    WHERE error_code IS NULL
    GROUP BY actor_arn, event_key
),

known AS (
    SELECT actor_arn, event_key, min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM baseline_principal_event
    GROUP BY actor_arn, event_key
)

SELECT
    c.event_time,
    c.event_id AS evidence_id,
    c.source_file,
    c.record_index,
    c.account_id,
    c.aws_region AS region,
    c.principal_arn,
    c.actor_arn,
    c.access_key_id,
    c.source_ip,
    c.event_name,
    coalesce(
        array_join(from_json(get_json_object(c.request_parameters, '$.instanceIds'), 'array<string>'), ', '),
        get_json_object(c.request_parameters, '$.target'),
        get_json_object(c.request_parameters, '$.instanceId'),
        c.account_id
    ) AS target,
    coalesce(
        from_json(get_json_object(c.request_parameters, '$.instanceIds'), 'array<string>'),
        array(coalesce(get_json_object(c.request_parameters, '$.target'),
            get_json_object(c.request_parameters, '$.instanceId')))
    ) AS instance_ids,
    CASE WHEN c.error_code IS NULL THEN '' ELSE concat(' attempted (refused: ', c.error_code, ')') END AS outcome,
    CASE
        WHEN c.error_code IS NULL THEN 'high'
        WHEN c.error_code RLIKE :denied_errors THEN 'low'
        ELSE 'medium'
    END AS severity
FROM calls AS c
LEFT JOIN seen AS s ON c.actor_arn = s.actor_arn AND c.event_key = s.event_key
LEFT JOIN known AS k
    ON c.actor_arn = k.actor_arn AND c.event_key = k.event_key
    AND k.last_seen >= timestampadd(DAY, -:baseline_days, c.event_time)
WHERE coalesce(least(k.first_seen, s.first_at), k.first_seen, s.first_at, c.event_time)
        > timestampadd(HOUR, -:warmup_hours, c.event_time)
    AND c.event_time >= :window_start AND c.event_time < :window_end
