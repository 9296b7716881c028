"""The mining-pool lookups of an incident's instances, from the Resolver query logs: pure
``DataFrame -> DataFrame`` transforms (the incident side is ``scope.incident_flows``' small
``nics`` frame and its flows)."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.incidents.scope import in_nic_vpc, nic_keys


def pool_lookups(queries: DataFrame, nics: DataFrame, pools: DataFrame) -> DataFrame:
    """Resolver queries from an incident's instances that looked up a mining-pool name: the name
    asked, or a CNAME target in the answer, is a pool host or a pool domain or one of its
    subdomains, as ``mining_pool_lookup`` decides.

    ``queries``: ``silver/dns_queries`` rows with the view's ``query_domain``, ``answer_names``
    and ``answer_ips``; a query is an instance's by ``instance_id``, or by source address in the
    same account (and VPC, when both name it). ``nics``: as ``incident_flows``. ``pools``:
    ``pool``, ``with_subdomains``. Out: ``incident_id``, ``nic_instance_id``, ``query_id``,
    ``query_time``, ``query_name``, ``query_type``, ``rcode``, ``answers`` (``TYPE data``),
    ``answer_ips``, ``pool_names``; one row per (incident, query).
    """
    n = nic_keys(nics)
    same_vpc = in_nic_vpc()
    instances = n.select("incident_id", "nic_instance_id").distinct()
    by_instance = queries.join(
        F.broadcast(instances), F.col("instance_id") == F.col("nic_instance_id")
    )
    by_src = queries.join(
        F.broadcast(n),
        (F.col("srcaddr") == F.col("nic_ip")) & (F.col("account_id") == F.col("nic_account")),
    ).where(same_vpc).drop("nic_eni", "nic_ip", "nic_account", "nic_vpc")
    theirs = by_instance.unionByName(by_src).dropDuplicates(["incident_id", "query_id"])
    names = theirs.select(
        "incident_id",
        "query_id",
        F.explode(F.concat(F.array("query_domain"), F.coalesce("answer_names", F.array())))
        .alias("name"),
    )
    is_pool = (F.col("name") == F.col("pool")) | (
        F.col("with_subdomains") & F.col("name").endswith(F.concat(F.lit("."), F.col("pool")))
    )
    matched = (
        names.join(F.broadcast(pools), is_pool)
        .groupBy("incident_id", "query_id")
        .agg(F.array_sort(F.collect_set("name")).alias("pool_names"))
    )
    return theirs.join(matched, ["incident_id", "query_id"]).select(
        "incident_id",
        "nic_instance_id",
        "query_id",
        "query_time",
        "query_name",
        "query_type",
        "rcode",
        F.expr("transform(coalesce(answers, array()), a -> concat_ws(' ', a.type, a.rdata))")
        .alias("answers"),
        "answer_ips",
        "pool_names",
    )


def lookup_summary(lookups: DataFrame, inc_flows: DataFrame, keep: int) -> DataFrame:
    """The pool lookups per incident, instance, name, type, rcode and answers, with the answered
    addresses the instance's flows went to at or after a lookup (``connected_ips``); the first
    ``keep`` per incident (those followed by traffic first, then by time) and the incident's
    count of lookups (``total``).

    ``lookups``: ``pool_lookups`` rows. ``inc_flows``: ``incident_flows`` rows. Out:
    ``incident_id``, ``instance_id``, ``query_name``, ``query_type``, ``rcode``, ``answers``,
    ``pool_names``, ``connected_ips``, ``lookups``, ``first_seen``, ``last_seen``, ``total``.
    """
    answered = lookups.select(
        "incident_id",
        "nic_instance_id",
        "query_id",
        "query_time",
        F.explode("answer_ips").alias("ip"),
    )
    flows = inc_flows.select(
        "incident_id",
        "nic_instance_id",
        F.col("peer_ip").alias("ip"),
        F.coalesce("end_time", "start_time").alias("flow_end"),
    )
    connected = (
        answered.join(flows, ["incident_id", "nic_instance_id", "ip"])
        .where(F.col("flow_end") >= F.col("query_time"))
        .groupBy("incident_id", "query_id")
        .agg(F.collect_set("ip").alias("connected_ips"))
    )
    grouped = (
        lookups.join(connected, ["incident_id", "query_id"], "left")
        .groupBy(
            "incident_id",
            F.col("nic_instance_id").alias("instance_id"),
            "query_name",
            "query_type",
            "rcode",
            "answers",
        )
        .agg(
            F.array_sort(F.array_distinct(F.flatten(F.collect_list("pool_names")))).alias(
                "pool_names"
            ),
            F.array_sort(
                F.array_distinct(F.flatten(F.collect_list(F.coalesce("connected_ips", F.array()))))
            ).alias("connected_ips"),
            F.count("*").alias("lookups"),
            F.min("query_time").alias("first_seen"),
            F.max("query_time").alias("last_seen"),
        )
    )
    rank = Window.partitionBy("incident_id").orderBy(
        F.size("connected_ips") == 0, "first_seen", "instance_id", "query_name", "query_type",
        "rcode", F.to_json("answers"),
    )
    per_incident = Window.partitionBy("incident_id")
    return (
        grouped.withColumn("rank", F.row_number().over(rank))
        .withColumn("total", F.sum("lookups").over(per_incident))
        .where(F.col("rank") <= keep)
        .drop("rank")
    )
