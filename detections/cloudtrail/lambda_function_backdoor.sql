-- Lambda functions changed to run an intruder's code or opened to callers outside the account:
-- AddPermission whose principal is "*" or an outside account (high; :trusted_accounts are not
-- outside), and UpdateFunctionCode or UpdateFunctionConfiguration adding layers by a principal
-- that has not made that call before (no successful call of the same API at least
-- :warmup_hours earlier, in the baseline or the data; medium). Deployments are routine CI work,
-- so novelty is judged only for principals with :warmup_hours of history (as
-- new_sdk_for_principal does): a first run does not flag every deployer. Refused calls are
-- attempts, one step lower.
WITH calls AS (
    SELECT
        *,
        -- The API version suffix (AddPermission20150331v2) dropped.
        regexp_extract(event_name, '^([A-Za-z]+?)(20[0-9]{6}.*)?$', 1) AS api,
        coalesce(recipient_account_id, account_id) AS owner_account,
        regexp_extract(coalesce(get_json_object(request_parameters, '$.functionName'), ''), '([^:]+)$', 1) AS function_name
    FROM cloudtrail_events
    WHERE event_source = 'lambda.amazonaws.com'
        AND event_name RLIKE '^(AddPermission|UpdateFunctionCode|UpdateFunctionConfiguration|AddLayerVersionPermission)'
        AND actor_arn IS NOT NULL
        AND ua_family NOT IN ('aws-service', 'aws-internal')
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
        coalesce(least(k.first_seen, s.first_at), k.first_seen, s.first_at, c.event_time)
            > timestampadd(HOUR, -:warmup_hours, c.event_time)
            AND coalesce(h.first_at <= timestampadd(HOUR, -:warmup_hours, c.event_time), FALSE) AS new_for_actor,
        size(from_json(get_json_object(c.request_parameters, '$.layers'), 'array<string>')) > 0 AS sets_layers
    FROM calls AS c
    LEFT JOIN seen AS s ON c.actor_arn = s.actor_arn AND c.api = s.api
    LEFT JOIN known AS k ON c.actor_arn = k.actor_arn AND c.api = k.api
    LEFT JOIN actor_history AS h ON c.actor_arn = h.actor_arn
    WHERE c.event_time >= :window_start AND c.event_time < :window_end
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
        WHEN api = 'UpdateFunctionCode' THEN 'code replaced'
        ELSE 'layers set'
    END AS change,
    CASE WHEN error_code IS NULL THEN '' ELSE concat(' (attempted, refused: ', error_code, ')') END AS outcome,
    CASE
        WHEN grantee IS NOT NULL THEN CASE WHEN error_code IS NULL THEN 'high' ELSE 'medium' END
        WHEN error_code IS NULL THEN 'medium'
        ELSE 'low'
    END AS severity
FROM judged
WHERE grantee IS NOT NULL
    OR (api = 'UpdateFunctionCode' AND new_for_actor)
    OR (api = 'UpdateFunctionConfiguration' AND sets_layers AND new_for_actor)
