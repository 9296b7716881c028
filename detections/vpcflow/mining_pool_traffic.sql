-- Accepted TCP egress from a private address to a public one on a mining-pool (stratum) port
-- (:mining_ports or the intel list intel_mining_pool_ports), or to a known pool address
-- (intel_mining_pool_ips, critical). Rejected flows and private-to-private traffic are not mining.
-- Flow logs without the instance-id field get it from RunInstances (this window's events or the
-- eni_instance baseline).
WITH launched AS (
    SELECT n.networkInterfaceId AS eni, i.instanceId AS instance_id
    FROM cloudtrail_events
    LATERAL VIEW explode(
        from_json(
            response_elements,
            'struct<instancesSet:struct<items:array<struct<instanceId:string,
                networkInterfaceSet:struct<items:array<struct<networkInterfaceId:string>>>>>>>'
        ).instancesSet.items
    ) AS i
    LATERAL VIEW explode(i.networkInterfaceSet.items) AS n
    WHERE event_source = 'ec2.amazonaws.com' AND event_name = 'RunInstances'
    UNION
    SELECT eni, instance_id FROM baseline_eni_instance
),

owners AS (
    SELECT eni, min(instance_id) AS instance_id
    FROM launched
    GROUP BY eni
)

SELECT
    f.start_time AS event_time,
    f.flow_id AS evidence_id,
    f.source_file,
    f.record_index,
    f.account_id,
    f.region,
    f.interface_id,
    coalesce(f.instance_id, o.instance_id) AS instance_id,
    f.srcaddr,
    f.dstaddr,
    f.dstport,
    f.dstaddr AS source_ip,
    CASE WHEN i.ip IS NOT NULL THEN 'critical' ELSE 'high' END AS severity
FROM vpc_flows AS f
LEFT JOIN intel_mining_pool_ips AS i ON f.dstaddr = i.ip
LEFT JOIN intel_mining_pool_ports AS p ON f.dstport = p.port
LEFT JOIN owners AS o ON f.interface_id = o.eni
WHERE f.action = 'ACCEPT'
    AND f.protocol = 6
    AND is_private_ip(f.srcaddr)
    AND NOT is_private_ip(f.dstaddr)
    AND (p.port IS NOT NULL OR array_contains(:mining_ports, f.dstport) OR i.ip IS NOT NULL)
    AND f.start_time >= :window_start AND f.start_time < :window_end
