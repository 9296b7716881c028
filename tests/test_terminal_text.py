"""Terminal-safe text (jobs/runtime/terminal.py), the delta-rs storage options, and which
invocations run without Spark (jobs/main.py): plain functions, no Spark session."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from jobs.main import needs_spark
from jobs.runtime.delta_reader import delta_rs_uri, storage_options, table_uri
from jobs.runtime.terminal import safe, safe_json, safe_lines

HOSTILE = "a\x1b[2J\x1b]0;pwned\x07b\rc\nd\te\x7ff\x9bg\u202eh\u2066i\u200bj\u2028k"


def test_safe_shows_every_control_format_and_separator_character_as_an_escape() -> None:
    assert safe(HOSTILE) == (
        "a\\x1b[2J\\x1b]0;pwned\\x07b\\x0dc\\x0ad\\x09e\\x7ff\\x9bg\\u202eh\\u2066i\\u200bj\\u2028k"
    )


def test_safe_keeps_printable_text_and_maps_none_to_empty() -> None:
    text = "Café ☁ 东京 <img src=x> $(id) `id` \\x1b"
    assert safe(text) == text
    assert safe(None) == ""
    assert safe(42) == "42"


def test_safe_lines_splits_on_newlines_only() -> None:
    assert safe_lines("# title\x1b[31m\n\n| a\rb |\x0c\n") == [
        "# title\\x1b[31m", "", "| a\\x0db |\\x0c", ""
    ]


def test_safe_json_is_ascii_without_controls_and_round_trips() -> None:
    row = {"title": HOSTILE, "at": datetime(2026, 11, 20, 14, 2, 5, tzinfo=UTC)}
    text = safe_json(row)
    assert all(32 <= ord(c) < 127 for c in text)
    assert json.loads(text) == {"title": HOSTILE, "at": "2026-11-20T14:02:05+00:00"}
    indented = safe_json(row, indent=2)
    assert "\n" in indented and json.loads(indented)["title"] == HOSTILE


def test_s3a_uris_are_read_as_s3_with_the_s3_section_then_the_environment() -> None:
    assert delta_rs_uri("s3a://lake/tw/gold/alerts") == "s3://lake/tw/gold/alerts"
    assert delta_rs_uri("/data/lake/gold/alerts") == "/data/lake/gold/alerts"
    assert table_uri("s3a://lake/tw/", "gold/alerts") == "s3a://lake/tw/gold/alerts"
    environ = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_REGION": "eu-west-1"}
    assert storage_options("s3a://lake/tw", {"path_style_access": True}, environ) == {
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "eu-west-1",
    }
    s3 = {"endpoint": "https://s3.example.internal", "region": "us-west-2"}
    assert storage_options("s3://lake/tw", s3, environ) == {
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true",
        "AWS_ENDPOINT_URL": "https://s3.example.internal",
        "AWS_REGION": "us-west-2",
    }
    assert storage_options("s3a://lake/tw", {}, {}) == {"AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true"}
    assert storage_options("/data/lake", s3, environ) == {}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["alerts"], False),
        (["alerts", "--since", "all", "--json"], False),
        (["incidents", "list", "--status", "open"], False),
        (["incidents", "--lakehouse", "/x", "show", "INC-20261120-0123456789"], False),
        (["incidents"], True),  # run is the default
        (["incidents", "run"], True),
        (["incidents", "ack", "INC-20261120-0123456789"], True),
        (["incidents", "resolve", "INC-20261120-0123456789", "--note", "list"], True),
        (["detect"], True),
        (["pipeline", "--lakehouse", "/x"], True),
        (["detect", "--help"], False),
        (["pipeline", "-h"], False),
        (["incidents", "bogus"], False),  # a usage error: plain Python reports it
        (["no-such-job"], False),
        (["help"], False),
        ([], False),
    ],
)
def test_needs_spark(argv: list[str], expected: bool) -> None:
    assert needs_spark(argv) is expected
