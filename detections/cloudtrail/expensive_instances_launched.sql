-- RunInstances of an expensive or GPU instance type (:expensive_instance_patterns) by a
-- principal that has not launched that type within :baseline_days. High when it succeeded,
-- medium for a refused attempt.
WITH launches AS (
    SELECT
        *,
        from_json(
            response_elements,
            'struct<instancesSet:struct<items:array<struct<instanceId:string, instanceType:string,
                networkInterfaceSet:struct<items:array<struct<networkInterfaceId:string>>>>>>>'
        ) AS resp,
        from_json(
            request_parameters,
            'struct<instanceType:string, instancesSet:struct<items:array<struct<imageId:string,
                minCount:int, maxCount:int, keyName:string>>>>'
        ) AS req
    FROM cloudtrail_events
    WHERE event_source = 'ec2.amazonaws.com' AND event_name = 'RunInstances'
),

typed AS (
    SELECT *, lower(coalesce(req.instanceType, resp.instancesSet.items[0].instanceType)) AS instance_type
    FROM launches
),

view_first AS (
    SELECT actor_arn, instance_type, min(event_time) AS first_at
    FROM typed
    WHERE error_code IS NULL
    GROUP BY actor_arn, instance_type
)

SELECT
    t.event_time,
    t.event_id AS evidence_id,
    t.source_file,
    t.record_index,
    t.account_id,
    t.aws_region AS region,
    t.principal_arn,
    t.actor_arn,
    t.access_key_id,
    t.source_ip,
    t.instance_type,
    t.error_code,
    CASE WHEN t.error_code IS NULL THEN 'launched' ELSE concat('launch attempted (refused: ', t.error_code, ')') END
        AS outcome,
    transform(t.resp.instancesSet.items, i -> i.instanceId) AS instance_ids,
    flatten(transform(
        t.resp.instancesSet.items, i -> transform(i.networkInterfaceSet.items, n -> n.networkInterfaceId)
    )) AS eni_ids,
    transform(t.req.instancesSet.items, i -> i.imageId) AS image_ids,
    CASE WHEN t.error_code IS NULL THEN 'high' ELSE 'medium' END AS severity
FROM typed AS t
LEFT JOIN view_first AS v ON t.actor_arn = v.actor_arn AND t.instance_type = v.instance_type
LEFT JOIN baseline_principal_instance_type AS b
    ON t.actor_arn = b.actor_arn
    AND t.instance_type = b.instance_type
    AND b.last_seen >= timestampadd(DAY, -:baseline_days, t.event_time)
WHERE exists(:expensive_instance_patterns, p -> t.instance_type RLIKE p)
    AND (least(b.first_seen, v.first_at) IS NULL OR least(b.first_seen, v.first_at) >= t.event_time)
    AND t.event_time >= :window_start AND t.event_time < :window_end
