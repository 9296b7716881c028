"""CloudWatch Logs subscription envelopes delivered by Firehose: files -> log events.

A Firehose stream fed by a CloudWatch Logs subscription writes each delivery's envelope
(``schemas/envelopes.py``) back to back, with nothing or a newline between them, in a gzip object.
A file is read as envelopes when its first key is an envelope key (``messageType``, ``owner``,
``logGroup``, ...): no CloudTrail or flow-log file starts that way. Documents are split where one
object closes and the next opens with a key (``}{"``), a sequence valid JSON never holds inside a
string (the ``"`` there is escaped), so a log message cannot forge an envelope boundary.

Each log event is one record; ``record_index`` is its 0-based position among the log events of
the file's envelopes, where an envelope that holds none (a control message, a malformed or
unknown one) takes one position. Control messages are skipped (``skipped:``) and counted as
``records_skipped``; malformed envelopes are quarantined with a reason.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from schemas.envelopes import CLOUDWATCH_ENVELOPE

CONTROL_MESSAGE = "skipped: CloudWatch Logs control message"
_KEYS = "|".join(f.name for f in CLOUDWATCH_ENVELOPE.fields)
_FIRST_KEY = rf'^\s*\{{\s*"({_KEYS})"\s*:'
_BOUNDARY = r'(?<=\})\s*(?=\{\s*"[^"\\]*"\s*:)'
_DDL = CLOUDWATCH_ENVELOPE.simpleString()


def is_envelope_file(value: Column) -> Column:
    """Whether a file's text (``value``) starts with a CloudWatch Logs envelope key."""
    return F.left(value, F.lit(256)).rlike(_FIRST_KEY)


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def log_events_sql(value: str, raw_max_chars: int) -> str:
    """SQL for the log events of a file of envelopes (SQL expression ``value``), in order:
    ``array<struct<record_index bigint, record string, reason string>>``: ``record`` is a
    log event's message (null ``reason``), or for an envelope without events its (truncated) text
    and why: ``envelope is not valid JSON``, an unknown ``messageType``,
    ``DATA_MESSAGE without logEvents``, or the control message's ``skipped:`` reason.
    """
    doc = f"left(x.d, {int(raw_max_chars)})"
    parsed = (f"transform(split({value}, {_sql_string(_BOUNDARY)}), "
              f"d -> named_struct('d', d, 'e', from_json(d, {_sql_string(_DDL)})))")
    entries = f"""flatten(transform({parsed}, x -> CASE
        WHEN x.e.messageType IS NULL THEN array(named_struct(
          'record', {doc}, 'reason', 'envelope is not valid JSON'))
        WHEN x.e.messageType = 'CONTROL_MESSAGE' THEN array(named_struct(
          'record', {doc}, 'reason', {_sql_string(CONTROL_MESSAGE)}))
        WHEN x.e.messageType != 'DATA_MESSAGE' THEN array(named_struct(
          'record', {doc}, 'reason', 'envelope messageType is not DATA_MESSAGE or CONTROL_MESSAGE'))
        WHEN coalesce(size(x.e.logEvents), 0) < 1 THEN array(named_struct(
          'record', {doc}, 'reason', 'DATA_MESSAGE without logEvents'))
        ELSE transform(x.e.logEvents, e -> named_struct(
          'record', e.message,
          'reason', CASE WHEN e.message IS NULL THEN 'log event without message' END))
      END))"""
    return f"""transform({entries}, (x, i) -> named_struct('record_index', CAST(i AS BIGINT),
        'record', x.record, 'reason', x.reason))"""
