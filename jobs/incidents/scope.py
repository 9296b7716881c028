"""What each incident's identities did and touched: pure ``DataFrame -> DataFrame`` transforms.

The incident side is a small frame ``identities`` with one row per (incident, identity):
``incident_id``, ``kind`` (``access_key`` or ``principal``), ``value``, ``anchor`` (the first
alert's first event), ``history_start`` (anchor minus the lookback) and ``window_end``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.enrich.ip import ip_is_private, ip_version
from jobs.incidents.extract import mutating

IDENTITY_COLUMNS = ("incident_id", "kind", "value", "anchor", "history_start", "window_end")


def incident_events(events: DataFrame, identities: DataFrame) -> DataFrame:
    """Silver CloudTrail events made with an incident's identities, within its history range.

    A key matches ``access_key_id``; a principal matches ``principal_arn`` or, for role
    sessions, ``session_issuer_arn``. Adds ``incident_id``, ``anchor``, ``window_end``;
    one row per (incident, event).
    """
    ids = identities.select(*IDENTITY_COLUMNS)
    joins = [
        events.join(
            F.broadcast(ids.where("kind = 'access_key'")), F.col("access_key_id") == F.col("value")
        ),
        events.join(
            F.broadcast(ids.where("kind = 'principal'")), F.col("principal_arn") == F.col("value")
        ),
        events.join(
            F.broadcast(ids.where("kind = 'principal'")),
            F.col("session_issuer_arn") == F.col("value"),
        ),
    ]
    matched = joins[0].unionByName(joins[1]).unionByName(joins[2])
    return (
        matched.where(
            (F.col("event_time") >= F.col("history_start"))
            & (F.col("event_time") <= F.col("window_end"))
        )
        .drop("kind", "value", "history_start")
        .dropDuplicates(["incident_id", "event_id"])
    )


def session_starts(inc_events: DataFrame, session_gap_seconds: int) -> DataFrame:
    """Per incident: ``started_at`` (first event of the activity session that reaches the first
    alert: walking back from the anchor, the session ends at a gap longer than
    ``session_gap_seconds``), ``key_first_seen`` (first event in the history range) and
    ``key_previous_seen`` (last event before the session, NULL when none).

    In: ``incident_events`` output. Out: ``incident_id``, ``started_at``, ``key_first_seen``,
    ``key_previous_seen``.
    """
    by_time = Window.partitionBy("incident_id").orderBy("event_time", "event_id")
    before = inc_events.where(F.col("event_time") <= F.col("anchor")).select(
        "incident_id", "event_time", "event_id"
    )
    gaps = before.withColumn("previous", F.lag("event_time").over(by_time)).withColumn(
        "is_break",
        F.col("previous").isNull()
        | (F.unix_seconds("event_time") - F.unix_seconds("previous") > session_gap_seconds),
    )
    return gaps.groupBy("incident_id").agg(
        F.max_by("event_time", F.when(F.col("is_break"), F.col("event_time"))).alias("started_at"),
        F.min("event_time").alias("key_first_seen"),
        F.max_by("previous", F.when(F.col("is_break"), F.col("event_time"))).alias(
            "key_previous_seen"
        ),
    )


def in_incident_window(inc_events: DataFrame, starts: DataFrame) -> DataFrame:
    """Events from the session start (or the anchor) to ``window_end``. Adds ``started_at``."""
    return (
        inc_events.join(starts.select("incident_id", "started_at"), "incident_id", "left")
        .where(F.col("event_time") >= F.coalesce("started_at", "anchor"))
        .where(F.col("event_time") <= F.col("window_end"))
    )


def activity(window_events: DataFrame) -> DataFrame:
    """Every non-read-only call, per incident, service and event name: ``calls``, ``errors``,
    first and last time, and the distinct source IPs, user agents, error codes and regions."""

    def distinct(col: str) -> Column:
        return F.array_sort(F.collect_set(col))

    return (
        window_events.where(mutating())
        .groupBy("incident_id", "event_source", "event_name")
        .agg(
            F.count("*").alias("calls"),
            F.count("error_code").alias("errors"),
            F.min("event_time").alias("first_seen"),
            F.max("event_time").alias("last_seen"),
            distinct("source_ip").alias("source_ips"),
            distinct("user_agent").alias("user_agents"),
            distinct("error_code").alias("error_codes"),
            distinct("aws_region").alias("regions"),
        )
    )


def touched(window_events: DataFrame) -> DataFrame:
    """Accounts, regions and principals per incident (all calls, read-only too)."""
    return window_events.groupBy("incident_id").agg(
        F.array_sort(F.collect_set("account_id")).alias("accounts"),
        F.array_sort(F.collect_set("aws_region")).alias("regions"),
        F.array_sort(F.collect_set("principal_arn")).alias("principals"),
        F.array_sort(F.collect_set("access_key_id")).alias("access_keys"),
    )


def call_sources(window_events: DataFrame) -> DataFrame:
    """Source IP addresses of the calls (service names such as ``ec2.amazonaws.com`` dropped):
    ``incident_id``, ``ip``, ``calls``, ``first_seen``, ``last_seen``."""
    return (
        window_events.where(ip_version("source_ip").isNotNull())
        .groupBy("incident_id", F.col("source_ip").alias("ip"))
        .agg(
            F.count("*").alias("calls"),
            F.min("event_time").alias("first_seen"),
            F.max("event_time").alias("last_seen"),
        )
    )


def minute_calls(window_events: DataFrame) -> DataFrame:
    """API calls per minute: ``incident_id``, ``minute``, ``api_calls``, ``write_calls``."""
    return window_events.groupBy(
        "incident_id", F.date_trunc("minute", "event_time").alias("minute")
    ).agg(
        F.count("*").alias("api_calls"),
        F.count(F.when(mutating(), True)).alias("write_calls"),
    )


def key_usage(window_events: DataFrame) -> DataFrame:
    """Per incident and access key: ``is_root``, ``user_name``, ``principal_arn``,
    ``account_id``, ``session_issuer_arn``, ``session_issuer_type``, ``first_used``,
    ``last_used``."""
    return (
        window_events.where(F.col("access_key_id").isNotNull())
        .groupBy("incident_id", "access_key_id")
        .agg(
            F.max(F.coalesce("is_root", F.lit(False))).alias("is_root"),
            F.min("user_name").alias("user_name"),
            F.min("principal_arn").alias("principal_arn"),
            F.min("account_id").alias("account_id"),
            F.max("session_issuer_arn").alias("session_issuer_arn"),
            F.max("session_issuer_type").alias("session_issuer_type"),
            F.min("event_time").alias("first_used"),
            F.max("event_time").alias("last_used"),
        )
    )


def identity_windows(identities: DataFrame, starts: DataFrame) -> DataFrame:
    """Each identity's window, from its incident's session start (else the anchor) to
    ``window_end``: ``incident_id``, ``kind``, ``value``, ``started_at``, ``window_end``."""
    return identities.join(
        starts.select("incident_id", "started_at"), "incident_id", "left"
    ).select(
        "incident_id",
        "kind",
        "value",
        F.coalesce("started_at", "anchor").alias("started_at"),
        "window_end",
    )


def created_by(created: DataFrame, windows: DataFrame) -> DataFrame:
    """Resources created by an incident's identities inside its window.

    ``created``: ``extract.created_resources`` rows. ``windows``: ``incident_id``, ``kind``,
    ``value``, ``started_at``, ``window_end``. Out: the ``created`` columns plus ``incident_id``.
    """
    w = windows.select("incident_id", "kind", "value", "started_at", "window_end")
    by_key = created.join(
        F.broadcast(w.where("kind = 'access_key'")), F.col("access_key_id") == F.col("value")
    )
    by_principal = created.join(
        F.broadcast(w.where("kind = 'principal'")), F.col("principal_arn") == F.col("value")
    )
    return (
        by_key.unionByName(by_principal)
        .where(
            (F.col("event_time") >= F.col("started_at"))
            & (F.col("event_time") <= F.col("window_end"))
        )
        .drop("kind", "value", "started_at", "window_end")
        .dropDuplicates(["incident_id", "resource_type", "resource_id", "parent_id", "event_id"])
    )


def nic_keys(nics: DataFrame) -> DataFrame:
    """An incident's interfaces as join keys: ``incident_id``, ``nic_instance_id``,
    ``nic_eni``, ``nic_ip``, ``nic_account``, ``nic_vpc``."""
    return nics.select(
        "incident_id",
        F.col("instance_id").alias("nic_instance_id"),
        F.col("eni_id").alias("nic_eni"),
        F.col("private_ip").alias("nic_ip"),
        F.col("account_id").alias("nic_account"),
        F.col("vpc_id").alias("nic_vpc"),
    )


def in_nic_vpc() -> Column:
    """A record's ``vpc_id`` is its interface's, or either is unknown."""
    nic, vpc = F.col("nic_vpc"), F.col("vpc_id")
    return nic.isNull() | vpc.isNull() | (nic == vpc)


def incident_flows(flows: DataFrame, nics: DataFrame) -> DataFrame:
    """Flow records on an incident's interfaces: by ``interface_id``, or by private address in
    the same account (and VPC, when both name it).

    ``nics``: ``incident_id``, ``instance_id``, ``eni_id``, ``private_ip``, ``account_id``,
    ``vpc_id``. Adds ``incident_id``, ``nic_instance_id``, ``local_ip``, ``peer_ip``,
    ``local_port``, ``peer_port``; one row per (incident, flow).
    """
    n = nic_keys(nics)
    same_vpc = in_nic_vpc()
    by_eni = flows.join(F.broadcast(n), F.col("interface_id") == F.col("nic_eni"))
    by_src = flows.join(
        F.broadcast(n),
        (F.col("srcaddr") == F.col("nic_ip")) & (F.col("account_id") == F.col("nic_account")),
    ).where(same_vpc)
    by_dst = flows.join(
        F.broadcast(n),
        (F.col("dstaddr") == F.col("nic_ip")) & (F.col("account_id") == F.col("nic_account")),
    ).where(same_vpc)
    local_is_src = F.col("srcaddr") == F.col("nic_ip")
    return (
        by_eni.unionByName(by_src)
        .unionByName(by_dst)
        .dropDuplicates(["incident_id", "flow_id"])
        .select(
            "*",
            F.when(local_is_src, F.col("srcaddr")).otherwise(F.col("dstaddr")).alias("local_ip"),
            F.when(local_is_src, F.col("dstaddr")).otherwise(F.col("srcaddr")).alias("peer_ip"),
            F.when(local_is_src, F.col("srcport")).otherwise(F.col("dstport")).alias("local_port"),
            F.when(local_is_src, F.col("dstport")).otherwise(F.col("srcport")).alias("peer_port"),
        )
        .drop("nic_eni", "nic_ip", "nic_account", "nic_vpc")
    )


def peers(inc_flows: DataFrame) -> DataFrame:
    """Public peers of the incident's interfaces, per incident, peer, service port, protocol and
    direction: ``outbound`` when the peer's port is the service port (the lower of the two),
    else ``inbound``. Out: ``incident_id``, ``ip``, ``port``, ``protocol``, ``direction``,
    ``bytes``, ``packets``, ``flows``, ``instance_ids``, ``first_seen``, ``last_seen``."""
    public = inc_flows.where(~F.coalesce(ip_is_private("peer_ip"), F.lit(True)))
    outbound = F.coalesce(F.col("peer_port") <= F.col("local_port"), F.lit(True))
    return (
        public.select(
            "incident_id",
            F.col("peer_ip").alias("ip"),
            F.when(outbound, F.col("peer_port")).otherwise(F.col("local_port")).alias("port"),
            "protocol",
            F.when(outbound, F.lit("outbound")).otherwise(F.lit("inbound")).alias("direction"),
            "bytes",
            "packets",
            F.coalesce("instance_id", "nic_instance_id").alias("iid"),
            "start_time",
            "end_time",
        )
        .groupBy("incident_id", "ip", "port", "protocol", "direction")
        .agg(
            F.sum("bytes").alias("bytes"),
            F.sum("packets").alias("packets"),
            F.count("*").alias("flows"),
            F.array_sort(F.collect_set("iid")).alias("instance_ids"),
            F.min("start_time").alias("first_seen"),
            F.max(F.coalesce("end_time", "start_time")).alias("last_seen"),
        )
    )


def minute_bytes(inc_flows: DataFrame) -> DataFrame:
    """Bytes per minute exchanged with public peers: ``incident_id``, ``minute``, ``flow_bytes``."""
    return (
        inc_flows.where(~F.coalesce(ip_is_private("peer_ip"), F.lit(True)))
        .groupBy("incident_id", F.date_trunc("minute", "start_time").alias("minute"))
        .agg(F.sum("bytes").alias("flow_bytes"))
    )
