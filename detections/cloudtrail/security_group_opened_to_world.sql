-- An ingress rule opening an administrative port (:admin_ports), or every port, to the whole
-- internet (any /0: 0.0.0.0/0, ::/0). A rule's port range counts when it covers one admin port.
WITH calls AS (
    SELECT *
    FROM cloudtrail_events
    WHERE event_source = 'ec2.amazonaws.com'
        AND event_name IN ('AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules')
        AND error_code IS NULL
        AND event_time >= :window_start AND event_time < :window_end
),

rules AS (
    -- Older SDKs: one rule in top-level cidrIp / ipProtocol / fromPort / toPort.
    SELECT
        event_id,
        get_json_object(request_parameters, '$.groupId') AS group_id,
        get_json_object(request_parameters, '$.ipProtocol') AS protocol,
        try_cast(get_json_object(request_parameters, '$.fromPort') AS INT) AS from_port,
        try_cast(get_json_object(request_parameters, '$.toPort') AS INT) AS to_port,
        get_json_object(request_parameters, '$.cidrIp') AS cidr
    FROM calls
    WHERE event_name = 'AuthorizeSecurityGroupIngress'
        AND get_json_object(request_parameters, '$.cidrIp') IS NOT NULL
    UNION ALL
    -- ipPermissions.items[] x (ipRanges.items[].cidrIp + ipv6Ranges.items[].cidrIpv6).
    SELECT
        event_id,
        req.groupId AS group_id,
        perm.ipProtocol AS protocol,
        perm.fromPort AS from_port,
        perm.toPort AS to_port,
        cidr
    FROM (
        SELECT
            event_id,
            from_json(
                request_parameters,
                'struct<groupId:string, ipPermissions:struct<items:array<struct<
                    ipProtocol:string, fromPort:int, toPort:int,
                    ipRanges:struct<items:array<struct<cidrIp:string>>>,
                    ipv6Ranges:struct<items:array<struct<cidrIpv6:string>>>>>>>'
            ) AS req
        FROM calls
        WHERE event_name = 'AuthorizeSecurityGroupIngress'
    )
    LATERAL VIEW explode(req.ipPermissions.items) AS perm
    LATERAL VIEW explode(
        concat(
            coalesce(transform(perm.ipRanges.items, r -> r.cidrIp), array()),
            coalesce(transform(perm.ipv6Ranges.items, r -> r.cidrIpv6), array())
        )
    ) AS cidr
    UNION ALL
    -- ModifySecurityGroupRules: one rule per request, as delivered.
    SELECT
        event_id,
        req.ModifySecurityGroupRulesRequest.GroupId AS group_id,
        req.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule.IpProtocol AS protocol,
        req.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule.FromPort AS from_port,
        req.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule.ToPort AS to_port,
        coalesce(
            req.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule.CidrIpv4,
            req.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule.CidrIpv6
        ) AS cidr
    FROM (
        SELECT
            event_id,
            from_json(
                request_parameters,
                'struct<ModifySecurityGroupRulesRequest:struct<GroupId:string,
                    SecurityGroupRule:struct<SecurityGroupRuleId:string, SecurityGroupRule:struct<
                        IpProtocol:string, FromPort:int, ToPort:int, CidrIpv4:string,
                        CidrIpv6:string>>>>'
            ) AS req
        FROM calls
        WHERE event_name = 'ModifySecurityGroupRules'
    )
),

open_rules AS (
    SELECT
        *,
        lower(protocol) IN ('-1', 'all') OR from_port = -1
        OR (coalesce(from_port, 0) <= 0 AND coalesce(to_port, 65535) >= 65535) AS all_ports
    FROM rules
    WHERE cidr LIKE '%/0'
        AND lower(coalesce(protocol, '-1')) IN ('-1', 'all', 'tcp', 'udp', '6', '17')
)

SELECT
    c.event_time,
    c.event_id AS evidence_id,
    c.source_file,
    c.record_index,
    c.account_id,
    c.aws_region AS region,
    c.principal_arn,
    c.access_key_id,
    c.source_ip,
    r.group_id,
    r.cidr,
    CASE
        WHEN r.all_ports THEN 'all ports'
        WHEN r.from_port = r.to_port THEN concat('port ', r.from_port)
        ELSE concat('ports ', r.from_port, '-', r.to_port)
    END AS port_range,
    CASE WHEN r.all_ports THEN 'critical' ELSE 'high' END AS severity
FROM open_rules AS r
INNER JOIN calls AS c ON r.event_id = c.event_id
WHERE r.all_ports OR exists(:admin_ports, p -> p BETWEEN r.from_port AND r.to_port)
