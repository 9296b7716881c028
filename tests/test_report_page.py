"""The incident report: escaping, Markdown, and the HTML page rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobs.incidents.plan import build_plan
from jobs.incidents.report_content import Target
from jobs.incidents.report_html import esc as esc_text
from jobs.incidents.report_html import render_html, timeline_svg
from jobs.incidents.report_markdown import render_markdown

HOSTILE = '<img src=x onerror=alert(1)>"><script>alert(2)</script>$(touch /tmp/pwned)'
# A name an attacker controls: markup, Markdown table and link syntax, a URL.
DOMAIN = "<b>x</b>|**[y](https://evil.example)**.supportxmr.com"
START = datetime(2026, 11, 20, 13, 42, 17, tzinfo=UTC)
INSTANCES = ["i-0efc93fe5098a9e3d", "i-07b09d01bec4feeea"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def incident(**overrides: Any) -> dict[str, Any]:
    scope = {
        "key_first_seen": START,
        "key_previous_seen": None,
        "dormant_days": None,
        "lookback_days": 30,
        "accounts": ["111122223333"],
        "regions": ["us-east-1"],
        "principals": ["arn:aws:iam::111122223333:root"],
        "access_keys": ["AKIAG7BBUL4YREMHR5JH"],
        "assumed_roles": [],
        "instances": [
            {
                "instance_id": i,
                "instance_type": "c5.4xlarge",
                "eni_ids": [f"eni-0{n}"],
                "private_ips": [f"172.31.35.{n}"],
                "region": "us-east-1",
                "account_id": "111122223333",
                "launched_at": START + timedelta(minutes=24),
            }
            for n, i in enumerate(INSTANCES)
        ],
        "security_groups": [
            {
                "group_id": "sg-0482c4a70731fcd4a",
                "group_name": HOSTILE,
                "created": True,
                "region": "us-east-1",
            }
        ],
        "ingress_rules": [],
        "key_pairs": [
            {
                "key_name": HOSTILE,
                "key_pair_id": "key-0ddcde080ac6be751",
                "region": "us-east-1",
                "event_name": "ImportKeyPair",
            }
        ],
        "iam": [],
        "source_ips": [
            {
                "ip": "167.99.54.10",
                "asn": 14061,
                "as_org": "DigitalOcean, LLC",
                "is_hosting": True,
                "calls": 8,
                "seen_in": "cloudtrail",
                "first_seen": START,
                "last_seen": START,
            }
        ],
        "destinations": [
            {
                "ip": "141.94.96.144",
                "port": 7777,
                "protocol": 6,
                "direction": "outbound",
                "asn": 16276,
                "as_org": "OVH SAS",
                "bytes": 3 * 2**30,
                "flows": 600,
                "instance_ids": INSTANCES,
                "first_seen": START,
                "last_seen": START,
            }
        ],
    }
    plan = build_plan(
        scope, {"AKIAG7BBUL4YREMHR5JH": {"is_root": True, "account_id": "111122223333"}}
    )
    timeline = [
        {
            "minute": START + timedelta(minutes=m),
            "api_calls": 3 if m < 25 else 0,
            "write_calls": 1 if 20 < m < 25 else 0,
            "flow_bytes": 0 if m < 27 else 5_000_000,
        }
        for m in range(0, 120)
    ]
    base = {
        "incident_id": "INC-20261120-0ee405169d",
        "status": "fixed",
        "severity": "critical",
        "title": f"Root access key AKIAG7BBUL4YREMHR5JH {HOSTILE}",
        "principal_arn": "arn:aws:iam::111122223333:root",
        "access_key_id": "AKIAG7BBUL4YREMHR5JH",
        "started_at": START,
        "alert_time": START + timedelta(minutes=38),
        "detected_at": START + timedelta(minutes=40),
        "fixed_at": START + timedelta(minutes=62),
        "alert_ids": ["a1", "a2"],
        "alert_count": 2,
        "detection_names": ["root_access_key_used"],
        "mitre_tactics": ["TA0001", "TA0040"],
        "mitre_techniques": ["T1078.004"],
        "activity": [
            {
                "event_source": "ec2.amazonaws.com",
                "event_name": "RunInstances",
                "calls": 1,
                "errors": 0,
                "first_seen": START,
                "last_seen": START,
                "source_ips": ["167.99.54.10"],
                "user_agents": [HOSTILE],
                "error_codes": [],
            }
        ],
        "scope": scope,
        "remediation": plan,
        "actions_total": len(plan),
        "actions_done": len(plan),
        "timeline": timeline,
        "dns_lookups": [
            {
                "instance_id": INSTANCES[0],
                "query_name": f"{DOMAIN}.",
                "query_type": "A",
                "rcode": "NOERROR",
                "answers": [f"CNAME {DOMAIN}.", "A 141.94.96.144"],
                "pool_names": [DOMAIN],
                "connected_ips": ["141.94.96.144"],
                "lookups": 3,
                "first_seen": START + timedelta(minutes=26),
                "last_seen": START + timedelta(minutes=40),
            }
        ],
        "dns_lookups_total": 5,
    }
    return base | overrides


def test_html_escapes_every_log_value() -> None:
    page = render_html(incident(), Target())
    assert "<img" not in page and "<script>" not in page and "onerror=alert(1)>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert not re.search(r"<(link|script|img|iframe)\b", page)  # self-contained, no external assets
    assert all(i in page for i in INSTANCES)
    assert "Within the 30-minute target" in page or "Over the 30-minute target" in page


def test_markdown_report_has_the_sections_and_no_raw_html() -> None:
    text = render_markdown(incident(), Target(minutes=30))
    for heading in (
        "## MITRE ATT&CK",
        "## Scope",
        "### Instances",
        "## Principal activity",
        "## Remediation plan for",
        "## Hot wash",
        "Review questions:",
    ):
        assert heading in text
    assert "<img" not in text and "<script" not in text
    assert (
        "aws ec2 terminate-instances --region us-east-1 --instance-ids i-0efc93fe5098a9e3d" in text
    )
    assert (
        "Fixed 2026-11-20 14:44:17 UTC: 24 min 00 s after the alert, within the 30-minute target."
        in text
    )


def test_dns_lookups_show_the_pool_the_answer_and_the_address_reached_escaped() -> None:
    page = render_html(incident(), Target())
    section = page[page.index('<h2 id="dns">') : page.index("<h2>Principal activity")]
    assert "<b>x</b>" not in section and 'href="https://evil' not in section
    cells = "<td>" + esc_text(f"{DOMAIN}.") + "</td><td>A</td><td>NOERROR</td><td>" + esc_text(
        f"CNAME {DOMAIN}., A 141.94.96.144") + "</td><td>" + esc_text(DOMAIN) + (
        "</td><td>141.94.96.144</td></tr>")
    assert cells in section and "<td>3</td><td>i-0efc93fe5098a9e3d</td>" in section
    assert "<p>Showing 3 of 5 lookups (2 more not shown).</p>" in section
    text = render_markdown(incident(), Target())
    table = text[text.index("## DNS lookups") : text.index("## Principal activity")]
    row = next(line for line in table.splitlines() if "i-0efc93fe5098a9e3d" in line)
    assert row.count(" | ") == 9  # the name's pipes are escaped, not new columns
    assert "&lt;b&gt;x&lt;/b&gt;\\|\\*\\*\\[y\\](https\\://evil.example)" in row
    assert (
        row.endswith("| 141.94.96.144 |") and "Showing 3 of 5 lookups (2 more not shown)." in table
    )
    empty = render_markdown(incident(dns_lookups=[], dns_lookups_total=0), Target())
    assert "## DNS lookups" in empty and "_None found._" in empty.split("## DNS lookups")[1]


def test_hot_wash_says_when_a_fix_is_over_target() -> None:
    text = render_markdown(incident(fixed_at=START + timedelta(hours=2)), Target(minutes=30))
    assert "1 h 22 min 00 s after the alert, over the 30-minute target." in text


def test_timeline_svg_draws_calls_traffic_and_markers() -> None:
    svg = timeline_svg(incident())
    assert (
        svg.startswith("<svg") and svg.count('class="api"') > 0 and svg.count('class="write"') > 0
    )
    assert 'class="flow"' in svg and svg.count('class="mark"') == 3
    assert timeline_svg(
        incident(timeline=[], started_at=None, alert_time=None, fixed_at=None)
    ).startswith("<p")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)"
)
def test_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "INC-20261120-0ee405169d.html"
    page.write_text(render_html(incident(), Target()), encoding="utf-8")
    shot = tmp_path / "page.png"
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
    ]
    subprocess.run(
        [*flags, f"--screenshot={shot}", page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "INC-20261120-0ee405169d" in dom and all(i in dom for i in INSTANCES)
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom  # shown as text ...
    assert "<img" not in dom and "<script>alert" not in dom  # ... never parsed as markup
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in dom and 'id="hot-wash"' in dom
    data = shot.read_bytes()
    assert _png_size(data) == (1280, 2000) and len(data) > 30_000  # a real page, not a blank one
