-- One principal reads many secrets within a window: distinct Secrets Manager secrets
-- (GetSecretValue, BatchGetSecretValue's secretIdList) and SSM parameters read with decryption
-- (GetParameter, GetParameters, GetParametersByPath). Medium at :secrets_min_distinct or more;
-- also medium at :secrets_min_distinct_new or more when the principal had not read secrets
-- before (no successful read at least :warmup_hours earlier, in the baseline or the data), and a
-- BatchGetSecretValue by filter (every secret matching a tag or name) by such a principal.
-- High when both thresholds hold. Refused reads count as attempts (title says so, medium).
WITH reads AS (
    SELECT
        *,
        concat(event_source, ':', event_name) AS event_key,
        floor(unix_seconds(event_time) / :window_seconds) AS bucket,
        CASE
            WHEN event_name = 'GetSecretValue' THEN array(get_json_object(request_parameters, '$.secretId'))
            WHEN event_name = 'BatchGetSecretValue' THEN coalesce(
                from_json(get_json_object(request_parameters, '$.secretIdList'), 'array<string>'),
                array(concat('filter:', coalesce(get_json_object(request_parameters, '$.filters'), '')))
            )
            WHEN event_name = 'GetParameter' THEN array(get_json_object(request_parameters, '$.name'))
            WHEN event_name = 'GetParameters' THEN from_json(get_json_object(request_parameters, '$.names'), 'array<string>')
            ELSE array(concat('path:', get_json_object(request_parameters, '$.path')))
        END AS names,
        event_name = 'BatchGetSecretValue' AND get_json_object(request_parameters, '$.secretIdList') IS NULL AS by_filter
    FROM cloudtrail_events
    WHERE actor_arn IS NOT NULL
        -- Infrastructure-as-code tools read every secret they manage on each plan or refresh.
        AND ua_family NOT IN ('aws-service', 'aws-internal', 'terraform', 'cloudformation')
        AND (
            (event_source = 'secretsmanager.amazonaws.com' AND event_name IN ('GetSecretValue', 'BatchGetSecretValue'))
            OR (event_source = 'ssm.amazonaws.com'
                AND event_name IN ('GetParameter', 'GetParameters', 'GetParametersByPath')
                AND lower(get_json_object(request_parameters, '$.withDecryption')) = 'true')
        )
),

history AS (
    SELECT actor_arn, min(event_time) AS first_at
    FROM reads
    WHERE error_code IS NULL
    GROUP BY actor_arn
),

known AS (
    SELECT actor_arn, min(first_seen) AS first_seen
    FROM baseline_principal_event
    WHERE event_key IN (
        'secretsmanager.amazonaws.com:GetSecretValue', 'secretsmanager.amazonaws.com:BatchGetSecretValue',
        'ssm.amazonaws.com:GetParameter', 'ssm.amazonaws.com:GetParameters',
        'ssm.amazonaws.com:GetParametersByPath'
    )
        AND last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
    GROUP BY actor_arn
),

windowed AS (
    SELECT
        r.*,
        coalesce(least(k.first_seen, h.first_at), k.first_seen, h.first_at, r.event_time)
            > timestampadd(HOUR, -:warmup_hours, r.event_time) AS new_reader
    FROM reads AS r
    LEFT JOIN history AS h ON r.actor_arn = h.actor_arn
    LEFT JOIN known AS k ON r.actor_arn = k.actor_arn
    WHERE r.event_time >= :window_start AND r.event_time < :window_end
),

per_actor AS (
    SELECT
        actor_arn,
        bucket,
        size(array_distinct(flatten(collect_list(names)))) AS secrets,
        bool_or(by_filter AND new_reader) AS new_filter_batch,
        bool_and(new_reader) AS new_reader,
        bool_and(error_code IS NOT NULL) AS all_refused
    FROM windowed
    GROUP BY actor_arn, bucket
)

SELECT
    w.event_time,
    w.event_id AS evidence_id,
    w.source_file,
    w.record_index,
    w.account_id,
    w.aws_region AS region,
    w.principal_arn,
    w.actor_arn,
    w.access_key_id,
    w.source_ip,
    p.secrets,
    CASE WHEN p.new_reader THEN ', which had not read secrets before' ELSE '' END AS novelty,
    CASE WHEN p.all_refused THEN 'attempted to read' ELSE 'read' END AS outcome,
    CASE
        WHEN p.all_refused THEN 'medium'
        WHEN p.secrets >= :secrets_min_distinct AND p.new_reader THEN 'high'
        ELSE 'medium'
    END AS severity
FROM windowed AS w
INNER JOIN per_actor AS p ON w.actor_arn = p.actor_arn AND w.bucket = p.bucket
WHERE p.secrets >= :secrets_min_distinct
    OR (p.new_reader AND p.secrets >= :secrets_min_distinct_new)
    OR p.new_filter_batch
