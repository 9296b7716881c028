-- Turning off or narrowing audit and threat detection: CloudTrail StopLogging / DeleteTrail /
-- UpdateTrail or PutEventSelectors that reduce logging, GuardDuty detector deletion or disabling,
-- leaving the administrator account, auto-archive filters, AWS Config recorder stops and VPC
-- flow-log deletion. High when the call succeeded, medium for a refused attempt.
WITH calls AS (
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
        'ec2.amazonaws.com'
    )
        AND event_time >= :window_start AND event_time < :window_end
)

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
        account_id
    ) AS target,
    CASE WHEN error_code IS NULL THEN 'high' ELSE 'medium' END AS severity
FROM calls
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
            'DisassociateFromAdministratorAccount', 'DeletePublishingDestination'
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
