-- A DNS lookup of a mining-pool domain: the query name, or any CNAME target in its answers, is a
-- pool host (intel_mining_pool_domains) or a pool domain or one of its subdomains
-- (intel_mining_pool_domain_suffixes). Names are compared lower-cased without the root dot, and a
-- suffix matches only on a label boundary (notsupportxmr.com is not supportxmr.com).
WITH pools AS (
    SELECT domain AS pool, false AS with_subdomains FROM intel_mining_pool_domains
    UNION ALL
    SELECT suffix, true FROM intel_mining_pool_domain_suffixes
),

names AS (
    SELECT q.query_id, name
    FROM dns_queries AS q
    LATERAL VIEW explode(concat(array(q.query_domain), q.answer_names)) AS name
    WHERE q.query_time >= :window_start AND q.query_time < :window_end
),

matched AS (
    SELECT n.query_id, array_sort(collect_set(n.name)) AS pool_names
    FROM names AS n
    JOIN pools AS p
        ON n.name = p.pool OR (p.with_subdomains AND endswith(n.name, concat('.', p.pool)))
    GROUP BY n.query_id
)

SELECT
    q.query_time AS event_time,
    q.query_id AS evidence_id,
    q.source_file,
    q.record_index,
    q.account_id,
    q.region,
    q.vpc_id,
    q.instance_id,
    q.srcaddr,
    q.srcaddr AS source_ip,
    q.query_domain,
    q.query_type,
    q.rcode,
    q.firewall_rule_action,
    m.pool_names,
    q.answer_ips
FROM dns_queries AS q
JOIN matched AS m ON q.query_id = m.query_id
WHERE q.query_time >= :window_start AND q.query_time < :window_end
