-- Turning off or narrowing audit and threat detection: CloudTrail StopLogging / DeleteTrail /
-- UpdateTrail or PutEventSelectors that reduce logging, GuardDuty detector deletion or disabling,
-- leaving the administrator account or removing members, auto-archive filters, AWS Config
-- recorder stops, VPC flow-log and Route 53 Resolver query-log deletion, and leaving the AWS
-- Organization. High when the call succeeded; low when the caller stops or deletes a trail it
-- created itself within :own_trail_hours (tearing down its own trail, as infrastructure-as-code
-- does, is not hiding from the account's audit trail). A refused or failed call changed nothing
-- and alone does not tell a probe from a missing permission or a mistyped trail name: low,
-- titled "attempted" (sensitive_call_refused judges refusals against the principal's history),
-- except LeaveOrganization, which has no routine use: an attempt is medium.
WITH own_trails AS (
    SELECT actor_arn AS creator, trail_name, last_seen AS created_at
    FROM baseline_trail_creator
    UNION ALL
    SELECT
        actor_arn AS creator,
        regexp_extract(get_json_object(request_parameters, '$.name'), '[^/]+$', 0) AS trail_name,
        event_time AS created_at
    FROM cloudtrail_events
    WHERE event_source = 'cloudtrail.amazonaws.com' AND event_name = 'CreateTrail' AND error_code IS NULL
),

calls AS (
    SELECT
        *,
        from_json(
            get_json_object(request_parameters, '$.eventSelectors'),
            'array<struct<readWriteType:string, includeManagementEvents:boolean,
                excludeManagementEventSources:array<string>>>'
        ) AS selectors,
        get_json_object(request_parameters, '$.advancedEventSelectors') AS advanced_selectors
    FROM cloudtrail_events
    WHERE event_source IN (
        'cloudtrail.amazonaws.com', 'guardduty.amazonaws.com', 'config.amazonaws.com',
        'ec2.amazonaws.com', 'route53resolver.amazonaws.com', 'organizations.amazonaws.com'
    )
        AND event_time >= :window_start AND event_time < :window_end
),

teardown AS (
    SELECT DISTINCT c.event_id
    FROM calls AS c
    INNER JOIN own_trails AS o
        ON o.creator = c.actor_arn
        AND o.trail_name = regexp_extract(coalesce(get_json_object(c.request_parameters, '$.name'), ''), '[^/]+$', 0)
        AND o.created_at <= c.event_time
        AND o.created_at >= timestampadd(HOUR, -:own_trail_hours, c.event_time)
    WHERE c.event_name IN ('StopLogging', 'DeleteTrail')
)

SELECT
    event_time,
    calls.event_id AS evidence_id,
    source_file,
    record_index,
    account_id,
    aws_region AS region,
    principal_arn,
    access_key_id,
    source_ip,
    event_name,
    CASE WHEN event_source = 'cloudtrail.amazonaws.com'
        THEN coalesce(
            get_json_object(request_parameters, '$.name'),
            get_json_object(request_parameters, '$.trailName')
        )
    END AS trail,
    get_json_object(request_parameters, '$.detectorId') AS detector_id,
    coalesce(
        get_json_object(request_parameters, '$.name'),
        get_json_object(request_parameters, '$.trailName'),
        get_json_object(request_parameters, '$.detectorId'),
        get_json_object(request_parameters, '$.configurationRecorderName'),
        get_json_object(request_parameters, '$.deliveryChannelName'),
        get_json_object(request_parameters, '$.DeleteFlowLogsRequest.FlowLogId.content'),
        get_json_object(request_parameters, '$.resolverQueryLogConfigId'),
        account_id
    ) AS target,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' attempted (refused: ', error_code, ')') END AS outcome,
    CASE
        WHEN t.event_id IS NOT NULL THEN 'low'
        WHEN error_code IS NULL THEN 'high'
        WHEN event_name = 'LeaveOrganization' THEN 'medium'
        ELSE 'low'
    END AS severity
FROM calls
LEFT JOIN teardown AS t ON calls.event_id = t.event_id
WHERE
    (event_source = 'cloudtrail.amazonaws.com' AND (
        event_name IN ('StopLogging', 'DeleteTrail')
        OR (event_name = 'UpdateTrail' AND (
            lower(get_json_object(request_parameters, '$.isMultiRegionTrail')) = 'false'
            OR lower(get_json_object(request_parameters, '$.includeGlobalServiceEvents')) = 'false'
            OR lower(get_json_object(request_parameters, '$.enableLogFileValidation')) = 'false'
        ))
        OR (event_name = 'PutEventSelectors' AND (
            exists(
                selectors,
                s -> NOT coalesce(s.includeManagementEvents, TRUE)
                    OR s.readWriteType IN ('ReadOnly', 'WriteOnly')
                    OR size(s.excludeManagementEventSources) > 0
            )
            OR (advanced_selectors IS NOT NULL AND advanced_selectors NOT LIKE '%Management%')
        ))
    ))
    OR (event_source = 'guardduty.amazonaws.com' AND (
        event_name IN (
            'DeleteDetector', 'DisassociateFromMasterAccount',
            'DisassociateFromAdministratorAccount', 'DeletePublishingDestination',
            'DisassociateMembers', 'DeleteMembers', 'StopMonitoringMembers'
        )
        OR (event_name = 'UpdateDetector'
            AND lower(get_json_object(request_parameters, '$.enable')) = 'false')
        OR (event_name IN ('CreateFilter', 'UpdateFilter')
            AND upper(get_json_object(request_parameters, '$.action')) = 'ARCHIVE')
    ))
    OR (event_source = 'config.amazonaws.com' AND event_name IN (
        'StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel'
    ))
    OR (event_source = 'ec2.amazonaws.com' AND event_name = 'DeleteFlowLogs')
    OR (event_source = 'route53resolver.amazonaws.com' AND event_name IN (
        'DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig'
    ))
    OR (event_source = 'organizations.amazonaws.com' AND event_name = 'LeaveOrganization')
