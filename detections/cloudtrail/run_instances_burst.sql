-- One principal launches at least :burst_min_instances instances within a detect window.
-- Instances are counted from the response (instancesSet.items) or, for a failed call, from the
-- request's maxCount/minCount, never by counting events. When fewer than :burst_min_instances
-- actually launched (the rest refused, e.g. VcpuLimitExceeded), the alert is an attempt: the
-- title says "attempted" and the severity is medium, not high.
WITH launches AS (
    SELECT
        *,
        from_json(
            response_elements,
            'struct<instancesSet:struct<items:array<struct<instanceId:string, instanceType:string,
                imageId:string, keyName:string,
                networkInterfaceSet:struct<items:array<struct<networkInterfaceId:string>>>,
                groupSet:struct<items:array<struct<groupId:string>>>>>>>'
        ) AS resp,
        from_json(
            request_parameters,
            'struct<instanceType:string, instancesSet:struct<items:array<struct<imageId:string,
                minCount:int, maxCount:int, keyName:string>>>>'
        ) AS req
    FROM cloudtrail_events
    WHERE event_source = 'ec2.amazonaws.com' AND event_name = 'RunInstances'
),

counted AS (
    SELECT
        *,
        CASE
            WHEN size(resp.instancesSet.items) > 0 THEN size(resp.instancesSet.items)
            ELSE aggregate(
                coalesce(req.instancesSet.items, array()), 0,
                (acc, i) -> acc + coalesce(i.maxCount, i.minCount, 1)
            )
        END AS instance_count,
        floor(unix_seconds(event_time) / :window_seconds) AS bucket
    FROM launches
),

running AS (
    SELECT
        *,
        sum(instance_count) OVER (PARTITION BY actor_arn, bucket) AS total_instances,
        sum(CASE WHEN error_code IS NULL THEN instance_count ELSE 0 END)
            OVER (PARTITION BY actor_arn, bucket) AS launched_instances,
        max(error_code) OVER (PARTITION BY actor_arn, bucket) AS refusal,
        sum(instance_count) OVER (
            PARTITION BY actor_arn, bucket ORDER BY event_time, event_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS running_instances
    FROM counted
)

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
    total_instances,
    CASE WHEN launched_instances >= :burst_min_instances THEN 'launched' ELSE 'attempted' END AS outcome,
    CASE
        WHEN launched_instances >= :burst_min_instances OR refusal IS NULL THEN ''
        ELSE concat(' (', total_instances - launched_instances, ' refused: ', refusal, ')')
    END AS refusal_note,
    CASE WHEN launched_instances >= :burst_min_instances THEN 'high' ELSE 'medium' END AS severity,
    coalesce(req.instanceType, resp.instancesSet.items[0].instanceType) AS instance_type,
    transform(resp.instancesSet.items, i -> i.instanceId) AS instance_ids,
    flatten(transform(
        resp.instancesSet.items, i -> transform(i.networkInterfaceSet.items, n -> n.networkInterfaceId)
    )) AS eni_ids,
    flatten(transform(resp.instancesSet.items, i -> transform(i.groupSet.items, g -> g.groupId)))
        AS group_ids,
    concat(
        coalesce(transform(resp.instancesSet.items, i -> i.keyName), array()),
        coalesce(transform(req.instancesSet.items, i -> i.keyName), array())
    ) AS key_names,
    transform(req.instancesSet.items, i -> i.imageId) AS image_ids,
    min(CASE WHEN running_instances >= :burst_min_instances THEN event_time END)
        OVER (PARTITION BY actor_arn, bucket) AS alert_time
FROM running
WHERE total_instances >= :burst_min_instances
    AND event_time >= :window_start AND event_time < :window_end
