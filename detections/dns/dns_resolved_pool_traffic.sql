-- Accepted flows from an instance to an address that a mining-pool domain resolved to for that
-- instance, on any port: the lookup (as in mining_pool_lookup: the name asked or a CNAME target is
-- a pool) happened no later than the flow record's end and no earlier than an hour before the
-- start of the flow's own detect window (the YAML's lookback), so the result does not depend on
-- how many windows one evaluation covers. The flow is the instance's when the flow log names the instance, else when
-- its source address asked the query in the same account (and the same VPC where both name it).
WITH pools AS (
    SELECT domain AS pool, false AS with_subdomains FROM intel_mining_pool_domains
    UNION ALL
    SELECT suffix, true FROM intel_mining_pool_domain_suffixes
),

recent AS (
    SELECT *
    FROM dns_queries
    WHERE query_time >= :window_start - INTERVAL 1 HOUR AND query_time < :window_end
        AND size(answer_ips) > 0
),

names AS (
    SELECT q.query_id, name
    FROM recent AS q
    LATERAL VIEW explode(concat(array(q.query_domain), q.answer_names)) AS name
),

pool_queries AS (
    SELECT DISTINCT n.query_id
    FROM names AS n
    JOIN pools AS p
        ON n.name = p.pool OR (p.with_subdomains AND endswith(n.name, concat('.', p.pool)))
),

resolved AS (
    SELECT q.account_id, q.vpc_id, q.instance_id, q.srcaddr, q.query_domain, q.query_time, ip
    FROM recent AS q
    JOIN pool_queries AS pq ON q.query_id = pq.query_id
    LATERAL VIEW explode(q.answer_ips) AS ip
)

SELECT DISTINCT
    f.start_time AS event_time,
    f.flow_id AS evidence_id,
    f.source_file,
    f.record_index,
    f.account_id,
    f.region,
    f.interface_id,
    coalesce(f.instance_id, r.instance_id) AS instance_id,
    f.srcaddr,
    f.dstaddr,
    f.dstport,
    f.dstaddr AS source_ip,
    r.query_domain
FROM vpc_flows AS f
JOIN resolved AS r
    ON f.dstaddr = r.ip
    AND f.account_id = r.account_id
    AND (
        f.instance_id = r.instance_id
        OR (f.srcaddr = r.srcaddr AND (f.vpc_id IS NULL OR r.vpc_id IS NULL OR f.vpc_id = r.vpc_id))
    )
    AND r.query_time <= coalesce(f.end_time, f.start_time + INTERVAL 10 MINUTES)
    AND r.query_time >= timestamp_seconds(
        floor(unix_seconds(f.start_time) / :window_seconds) * :window_seconds
    ) - INTERVAL 1 HOUR
WHERE f.action = 'ACCEPT'
    AND f.start_time >= :window_start AND f.start_time < :window_end
