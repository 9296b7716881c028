-- One principal reads many secrets within a window: distinct Secrets Manager secrets
-- (GetSecretValue, BatchGetSecretValue's secretIdList) and SSM parameters read with decryption
-- (GetParameter, GetParameters, GetParametersByPath).
--   * medium at :secrets_min_distinct or more (absolute); high when the principal had never
--     read a secret before the window (baseline or data);
--   * medium at :secrets_min_distinct_new or more secrets it had not read before (its
--     principal_secret baseline within :baseline_days, or the data before the window), once the
--     principal has :warmup_hours of secret-reading history: against its own baseline;
--   * medium for a BatchGetSecretValue by filter (every secret matching a tag or name).
-- Refused reads are attempts (the title says so). Reads by infrastructure-as-code tools are not
-- counted: they read every secret they manage on each plan or refresh.
WITH reads AS (
    SELECT
        *,
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
        AND ua_family NOT IN ('aws-service', 'aws-internal', 'terraform', 'cloudformation')
        AND (
            (event_source = 'secretsmanager.amazonaws.com' AND event_name IN ('GetSecretValue', 'BatchGetSecretValue'))
            OR (event_source = 'ssm.amazonaws.com'
                AND event_name IN ('GetParameter', 'GetParameters', 'GetParametersByPath')
                AND lower(get_json_object(request_parameters, '$.withDecryption')) = 'true')
        )
),

-- Every (principal, secret) read successfully, with when: the baseline and the data.
known AS (
    SELECT actor_arn, secret, first_seen AS read_at
    FROM baseline_principal_secret
    WHERE last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
    UNION ALL
    SELECT actor_arn, name AS secret, event_time AS read_at
    FROM reads LATERAL VIEW explode(names) n AS name
    WHERE error_code IS NULL
),

history AS (
    SELECT actor_arn, min(read_at) AS first_read
    FROM known
    GROUP BY actor_arn
),

names_read AS (
    SELECT r.actor_arn, r.bucket, name
    FROM reads AS r LATERAL VIEW explode(r.names) n AS name
    WHERE r.event_time >= :window_start AND r.event_time < :window_end
),

novel AS (
    SELECT n.actor_arn, n.bucket, count(DISTINCT n.name) AS new_secrets
    FROM names_read AS n
    LEFT ANTI JOIN known AS k
        ON n.actor_arn = k.actor_arn AND n.name = k.secret
        AND k.read_at < timestamp_seconds(n.bucket * :window_seconds)
    GROUP BY n.actor_arn, n.bucket
),

per_actor AS (
    SELECT
        r.actor_arn,
        r.bucket,
        size(array_distinct(flatten(collect_list(r.names)))) AS secrets,
        bool_or(r.by_filter) AS filter_batch,
        bool_and(r.error_code IS NOT NULL) AS all_refused,
        min(r.event_time) AS first_at
    FROM reads AS r
    WHERE r.event_time >= :window_start AND r.event_time < :window_end
    GROUP BY r.actor_arn, r.bucket
),

judged AS (
    SELECT
        p.*,
        coalesce(v.new_secrets, 0) AS new_secrets,
        h.first_read IS NULL OR h.first_read >= timestamp_seconds(p.bucket * :window_seconds) AS first_reader,
        coalesce(h.first_read <= timestampadd(HOUR, -:warmup_hours, timestamp_seconds(p.bucket * :window_seconds)), FALSE) AS seasoned
    FROM per_actor AS p
    LEFT JOIN novel AS v ON p.actor_arn = v.actor_arn AND p.bucket = v.bucket
    LEFT JOIN history AS h ON p.actor_arn = h.actor_arn
)

SELECT
    r.event_time,
    r.event_id AS evidence_id,
    r.source_file,
    r.record_index,
    r.account_id,
    r.aws_region AS region,
    r.principal_arn,
    r.actor_arn,
    r.access_key_id,
    r.source_ip,
    j.secrets,
    CASE
        WHEN j.first_reader THEN ', which had never read secrets'
        WHEN j.seasoned AND j.new_secrets >= :secrets_min_distinct_new THEN concat(', ', j.new_secrets, ' of them new to it')
        ELSE ''
    END AS novelty,
    CASE WHEN j.all_refused THEN 'attempted to read' ELSE 'read' END AS outcome,
    CASE
        WHEN NOT j.all_refused AND j.secrets >= :secrets_min_distinct AND j.first_reader THEN 'high'
        ELSE 'medium'
    END AS severity
FROM reads AS r
INNER JOIN judged AS j ON r.actor_arn = j.actor_arn AND r.bucket = j.bucket
WHERE r.event_time >= :window_start AND r.event_time < :window_end
    AND (
        j.secrets >= :secrets_min_distinct
        OR (j.seasoned AND j.new_secrets >= :secrets_min_distinct_new)
        OR j.filter_batch
    )
