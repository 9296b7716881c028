-- A snapshot, AMI, RDS snapshot or RDS cluster snapshot shared with another account or made
-- public: ModifySnapshotAttribute (createVolumePermission add), ModifyImageAttribute
-- (launchPermission add), ModifyDBSnapshotAttribute / ModifyDBClusterSnapshotAttribute
-- (restore valuesToAdd). "Outside" is an account that is not the event's account and not one of
-- :trusted_accounts. High; critical when public ("all"); medium for refused attempts.
WITH calls AS (
    SELECT
        *,
        coalesce(recipient_account_id, account_id) AS owner_account,
        CASE
            WHEN event_name = 'ModifySnapshotAttribute' THEN from_json(get_json_object(request_parameters, '$.createVolumePermission.add.items'),
                'array<struct<userId:string, group:string>>')
            WHEN event_name = 'ModifyImageAttribute' THEN from_json(get_json_object(request_parameters, '$.launchPermission.add.items'),
                'array<struct<userId:string, group:string>>')
        END AS ec2_items,
        from_json(get_json_object(request_parameters, '$.valuesToAdd'), 'array<string>') AS rds_values,
        coalesce(
            get_json_object(request_parameters, '$.snapshotId'),
            get_json_object(request_parameters, '$.imageId'),
            get_json_object(request_parameters, '$.dBSnapshotIdentifier'),
            get_json_object(request_parameters, '$.dBClusterSnapshotIdentifier')
        ) AS resource_id
    FROM cloudtrail_events
    WHERE (
        (event_source = 'ec2.amazonaws.com' AND event_name IN ('ModifySnapshotAttribute', 'ModifyImageAttribute'))
        OR (event_source = 'rds.amazonaws.com'
            AND event_name IN ('ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute')
            AND lower(get_json_object(request_parameters, '$.attributeName')) = 'restore')
    )
        AND event_time >= :window_start AND event_time < :window_end
),

grants AS (
    SELECT
        *,
        array_distinct(filter(
            concat(
                coalesce(transform(ec2_items, i -> lower(coalesce(i.userId, i.`group`))), array()),
                coalesce(transform(rds_values, v -> lower(v)), array())
            ),
            a -> a = 'all' OR (a RLIKE '^[0-9]{12}$' AND a != owner_account
                AND NOT array_contains(split(:trusted_accounts, ','), a))
        )) AS grantees
    FROM calls
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
    event_name,
    filter(grantees, a -> a RLIKE '^[0-9]{12}$') AS grantee_accounts,
    resource_id,
    CASE WHEN event_name = 'ModifyImageAttribute' THEN resource_id END AS image_id,
    CASE
        WHEN event_name = 'ModifySnapshotAttribute' THEN 'EBS snapshot'
        WHEN event_name = 'ModifyImageAttribute' THEN 'AMI'
        WHEN event_name = 'ModifyDBSnapshotAttribute' THEN 'RDS snapshot'
        ELSE 'RDS cluster snapshot'
    END AS resource_kind,
    CASE WHEN array_contains(grantees, 'all') THEN 'everyone (public)' ELSE array_join(grantees, ', ') END AS grantee_list,
    CASE WHEN error_code IS NULL THEN 'shared with' ELSE concat('attempted to share (refused: ', error_code, ') with') END AS outcome,
    CASE
        WHEN error_code IS NOT NULL THEN 'low'
        WHEN array_contains(grantees, 'all') THEN 'critical'
        ELSE 'high'
    END AS severity
FROM grants
WHERE size(grantees) > 0
