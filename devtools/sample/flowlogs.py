"""VPC Flow Log records (kept in the custom v5 field order) and their delivery files: text, or
Parquet under Hive-compatible prefixes for the account that delivers that way."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from devtools.sample.ids import WINDOW, Clock, Ids
from devtools.sample.landscape import PARQUET_FLOW_ACCOUNT, V5_FIELDS, Eni
from devtools.sample.output import Count, Sink

Record = tuple[Any, ...]  # one value per V5_FIELDS entry
V5_INDEX = {f: i for i, f in enumerate(V5_FIELDS)}
# Parquet column types AWS documents for flow-log records (every other field is a string).
PARQUET_INTS = {"version": pa.int32(), "srcport": pa.int32(), "dstport": pa.int32(),
                "protocol": pa.int32(), "tcp-flags": pa.int32(), "traffic-path": pa.int32(),
                "packets": pa.int64(), "bytes": pa.int64(), "start": pa.int64(),
                "end": pa.int64()}
NO_TRAFFIC = ("-",) * 10  # type .. packets of a NODATA/SKIPDATA record
AFTER_STATUS = ("-", "-", "-", "-")  # flow-direction .. pkt-dst-aws-service


@dataclass(frozen=True)
class Iface:
    """An ENI as one flow log sees it: the fixed leading and trailing fields of its records."""

    eni: Eni
    head: Record
    tail: Record


def iface(account: str, region: str, vpc_id: str, eni: Eni, fields: tuple[str, ...]) -> Iface:
    """Wrap ``eni`` for a flow log written with ``fields``."""
    version = "5" if "flow-direction" in fields else "2"
    return Iface(
        eni,
        (version, vpc_id, eni.subnet_id, eni.instance_id, eni.eni_id, account),
        (region, eni.az_id, "-", "-"),
    )


def record(
    nic: Iface,
    src: str,
    dst: str,
    sport: int,
    dport: int,
    proto: int,
    packets: int,
    size: int,
    start: int,
    end: int,
    action: str,
    flags: int,
    direction: str,
    path: str,
    src_svc: str,
    dst_svc: str,
) -> Record:
    """One flow record with log-status OK."""
    return (
        *nic.head,
        "IPv4",
        src,
        dst,
        sport,
        dport,
        src,
        dst,
        proto,
        size,
        packets,
        start,
        end,
        action,
        flags,
        "OK",
        direction,
        path,
        src_svc,
        dst_svc,
        *nic.tail,
    )


def no_data(nic: Iface, start: int, end: int, status: str) -> Record:
    """A NODATA or SKIPDATA record: every traffic field is ``-``."""
    return (*nic.head, *NO_TRAFFIC, start, end, "-", "-", status, *AFTER_STATUS, *nic.tail)


def packets(size: int) -> int:
    """A plausible packet count for ``size`` bytes."""
    return size // 900 + 1


def conversation(
    nic: Iface,
    remote: str,
    local_port: int,
    remote_port: int,
    proto: int,
    start: int,
    end: int,
    sent: int,
    received: int,
    *,
    local_started: bool,
    path: str,
    svc: str = "-",
) -> tuple[Record, Record]:
    """Both directions of one accepted flow as seen on ``nic``, initiator's record first."""
    tcp = proto == 6
    out_flags, in_flags = ((3, 19) if local_started else (19, 3)) if tcp else (0, 0)
    local = nic.eni.ip
    egress = record(
        nic,
        local,
        remote,
        local_port,
        remote_port,
        proto,
        packets(sent),
        sent,
        start,
        end,
        "ACCEPT",
        out_flags,
        "egress",
        path,
        "-",
        svc,
    )
    ingress = record(
        nic,
        remote,
        local,
        remote_port,
        local_port,
        proto,
        packets(received),
        received,
        start,
        end,
        "ACCEPT",
        in_flags,
        "ingress",
        "-",
        svc,
        "-",
    )
    return (egress, ingress) if local_started else (ingress, egress)


def formatter(fields: tuple[str, ...]) -> Callable[[Record], str]:
    """``format(record)`` renders a record as a line of ``fields``."""
    template = " ".join("%s" for _ in fields)
    pick = itemgetter(*(V5_INDEX[f] for f in fields))
    return lambda rec: template % pick(rec)


def parquet_body(records: list[Record], fields: tuple[str, ...]) -> bytes:
    """The records as a gzip-compressed Parquet file, one column per field (hyphens become
    underscores, ``-`` becomes null), as VPC Flow Logs writes its Parquet delivery."""
    columns = {}
    for name in fields:
        kind = PARQUET_INTS.get(name, pa.string())
        values = [r[V5_INDEX[name]] for r in records]
        columns[name.replace("-", "_")] = pa.array(
            [None if v == "-" else (int(v) if kind != pa.string() else str(v)) for v in values],
            kind,
        )
    out = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), out, compression="gzip")
    return out.getvalue().to_pybytes()


def write_flow_log(
    sink: Sink,
    ids: Ids,
    clock: Clock,
    *,
    account: str,
    region: str,
    flow_log_id: str,
    fields: tuple[str, ...],
    timed: Iterable[tuple[int, Record]],
) -> Count:
    """Write ``(second-of-day, record)`` pairs (in time order) as one file per 5 minutes: text
    with a header line, or Parquet under Hive-compatible prefixes for ``PARQUET_FLOW_ACCOUNT``."""
    count = Count()
    fmt, header = formatter(fields), " ".join(fields)
    parquet = account == PARQUET_FLOW_ACCOUNT
    for window, group in groupby(timed, key=lambda tr: tr[0] // WINDOW):
        records = [rec for _, rec in group]
        delivered = clock.delivery(window)
        stamp = clock.stamp(delivered)
        name = f"{account}_vpcflowlogs_{region}_{flow_log_id}_{stamp}_{ids.hex(8)}.log"
        if parquet:
            hour = delivered // 3600
            key = (f"AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region={region}/"
                   f"{clock.hive_path}/hour={hour:02d}/{name}.parquet")
            written = sink.put(key, parquet_body(records, fields), compress=False)
        else:
            key = f"AWSLogs/{account}/vpcflowlogs/{region}/{clock.path}/{name}.gz"
            written = sink.put(key, ("\n".join([header, *map(fmt, records)]) + "\n").encode())
        if written:
            count.add(len(records))
    return count
