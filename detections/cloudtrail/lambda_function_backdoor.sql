-- Lambda functions changed to run an intruder's code or opened to callers outside the account.
-- AddPermission whose principal is "*" or an outside account: high (:trusted_accounts are not
-- outside). UpdateFunctionCode, or UpdateFunctionConfiguration that sets layers: medium when
--   * the function's previous change (create, code or configuration, in the data) came from
--     another principal or through another client family: the deployment path changed (code
--     deployed by infrastructure as code or CI, then replaced by hand or by someone else);
--   * a layer belongs to an outside account;
--   * the principal has :warmup_hours of history and has not made that call before (baseline
--     within :baseline_days, or the data);
--   * the principal has no such history (a first run, a principal the data has just met), this
--     is its only function change in the data, not through the console or infrastructure as
--     code, and new code comes inline rather than from an S3 object or image: a deployer
--     repeats and ships built artifacts, an overwrite is a one-off with its own package.
-- Routine deployments (the same principal and client as the function's last change, repeated)
-- raise nothing. Refused calls are attempts: low (AddPermission: medium).
WITH calls AS (
    SELECT
        *,
        -- The API version suffix (AddPermission20150331v2) dropped.
        regexp_extract(event_name, '^([A-Za-z]+?)(20[0-9]{6}.*)?$', 1) AS api,
        coalesce(recipient_account_id, account_id) AS owner_account,
        regexp_extract(coalesce(get_json_object(request_parameters, '$.functionName'), ''), '([^:]+)$', 1) AS function_name
    FROM cloudtrail_events
    WHERE event_source = 'lambda.amazonaws.com'
        AND event_name RLIKE '^(AddPermission|UpdateFunctionCode|UpdateFunctionConfiguration|AddLayerVersionPermission|CreateFunction)'
        AND actor_arn IS NOT NULL
),

-- Every successful change of a function's code or configuration: who, and through what client.
changes AS (
    SELECT event_id, event_time, actor_arn, ua_family, owner_account, function_name
    FROM calls
    WHERE api IN ('CreateFunction', 'UpdateFunctionCode', 'UpdateFunctionConfiguration')
        AND error_code IS NULL
        AND ua_family <> 'aws-internal'
),

judgeable AS (
    SELECT *
    FROM calls
    WHERE api <> 'CreateFunction'
        AND ua_family NOT IN ('aws-service', 'aws-internal')
        AND event_time >= :window_start AND event_time < :window_end
),

previous AS (
    SELECT
        c.event_id,
        p.actor_arn AS prev_actor,
        p.ua_family AS prev_family,
        row_number() OVER (PARTITION BY c.event_id ORDER BY p.event_time DESC, p.event_id DESC) AS rank
    FROM judgeable AS c
    INNER JOIN changes AS p
        ON p.owner_account = c.owner_account AND p.function_name = c.function_name
        AND (p.event_time < c.event_time OR (p.event_time = c.event_time AND p.event_id < c.event_id))
),

other_changes AS (
    SELECT c.event_id, count(p.event_id) AS n
    FROM judgeable AS c
    LEFT JOIN changes AS p ON p.actor_arn = c.actor_arn AND p.event_id <> c.event_id
    GROUP BY c.event_id
),

seen AS (
    SELECT actor_arn, api, min(event_time) AS first_at
    FROM calls
    WHERE error_code IS NULL
    GROUP BY actor_arn, api
),

known AS (
    SELECT actor_arn, regexp_extract(event_key, ':([A-Za-z]+?)(20[0-9]{6}.*)?$', 1) AS api, min(first_seen) AS first_seen
    FROM baseline_principal_event
    WHERE event_key LIKE 'lambda.amazonaws.com:%'
        AND last_seen >= timestampadd(DAY, -:baseline_days, :window_start)
    GROUP BY 1, 2
),

actor_history AS (
    SELECT actor_arn, min(first_at) AS first_at
    FROM (
        SELECT actor_arn, min(first_seen) AS first_at FROM baseline_principal_event GROUP BY actor_arn
        UNION ALL
        SELECT actor_arn, min(event_time) AS first_at FROM cloudtrail_events GROUP BY actor_arn
    ) AS h
    GROUP BY actor_arn
),

judged AS (
    SELECT
        c.*,
        CASE
            WHEN c.api IN ('AddPermission', 'AddLayerVersionPermission') THEN
                CASE
                    WHEN get_json_object(c.request_parameters, '$.principal') = '*' THEN 'everyone (public)'
                    WHEN regexp_extract(get_json_object(c.request_parameters, '$.principal'), '([0-9]{12})', 1)
                        NOT IN ('', c.owner_account)
                        AND NOT array_contains(split(:trusted_accounts, ','),
                            regexp_extract(get_json_object(c.request_parameters, '$.principal'), '([0-9]{12})', 1))
                        THEN concat('account ', regexp_extract(get_json_object(c.request_parameters, '$.principal'), '([0-9]{12})', 1))
                END
        END AS grantee,
        coalesce(h.first_at <= timestampadd(HOUR, -:warmup_hours, c.event_time), FALSE) AS has_history,
        coalesce(least(k.first_seen, s.first_at), k.first_seen, s.first_at, c.event_time)
            > timestampadd(HOUR, -:warmup_hours, c.event_time) AS new_call,
        from_json(get_json_object(c.request_parameters, '$.layers'), 'array<string>') AS layers,
        p.prev_actor,
        p.prev_family,
        o.n AS other_changes
    FROM judgeable AS c
    LEFT JOIN previous AS p ON c.event_id = p.event_id AND p.rank = 1
    LEFT JOIN other_changes AS o ON c.event_id = o.event_id
    LEFT JOIN seen AS s ON c.actor_arn = s.actor_arn AND c.api = s.api
    LEFT JOIN known AS k ON c.actor_arn = k.actor_arn AND c.api = k.api
    LEFT JOIN actor_history AS h ON c.actor_arn = h.actor_arn
),

reasoned AS (
    SELECT
        *,
        filter(
            transform(coalesce(layers, array()), l -> regexp_extract(l, ':([0-9]{12}):layer:', 1)),
            a -> a NOT IN ('', owner_account) AND NOT array_contains(split(:trusted_accounts, ','), a)
        ) AS outside_layer_accounts,
        CASE
            WHEN prev_actor IS NOT NULL AND prev_actor <> actor_arn
                THEN concat('last changed by ', prev_actor, ' through ', prev_family)
            WHEN prev_family IS NOT NULL AND prev_family <> ua_family
                THEN concat('last changed through ', prev_family, ', now through ', ua_family)
        END AS path_change
    FROM judged
    WHERE api = 'UpdateFunctionCode'
        OR (api = 'UpdateFunctionConfiguration' AND size(layers) > 0)
        OR grantee IS NOT NULL
),

flagged AS (
    SELECT
        *,
        coalesce(
            path_change,
            CASE WHEN size(outside_layer_accounts) > 0
                THEN concat('layer of account ', array_join(outside_layer_accounts, ', ')) END,
            CASE WHEN has_history AND new_call THEN 'a first for this principal' END,
            CASE WHEN NOT has_history AND other_changes = 0
                    AND ua_family NOT IN ('console', 'terraform', 'cloudformation')
                    AND get_json_object(request_parameters, '$.s3Bucket') IS NULL
                    AND get_json_object(request_parameters, '$.imageUri') IS NULL
                THEN 'the only function change of a principal without history' END
        ) AS why
    FROM reasoned
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
    api,
    function_name,
    CASE
        WHEN grantee IS NOT NULL THEN concat('invocation opened to ', grantee)
        WHEN api = 'UpdateFunctionCode' THEN concat('code replaced (', why, ')')
        ELSE concat('layers set (', why, ')')
    END AS change,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', error_code, ')') END AS outcome,
    CASE
        WHEN grantee IS NOT NULL THEN CASE WHEN error_code IS NULL THEN 'high' ELSE 'medium' END
        WHEN error_code IS NULL THEN 'medium'
        ELSE 'low'
    END AS severity
FROM flagged
WHERE grantee IS NOT NULL OR why IS NOT NULL
