"""Slack incoming webhook (slack-sdk's ``WebhookClient``): one Block Kit message per change, with
severity, title, principal, top entities, counts, remediation progress and the report link.

Every value from the data is escaped for mrkdwn (``jobs.delivery.escape.slack``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.error import URLError

from jobs.delivery.context import Context
from jobs.delivery.escape import one_line, slack
from jobs.delivery.model import Delivery, Outcome
from jobs.delivery.render import details, summary
from jobs.delivery.retry import Retryable, classify, one_by_one
from jobs.delivery.settings import Destination

SCHEMA: dict[str, Any] = {
    "properties": {"url_env": {"type": "string", "minLength": 1}},
    "required": ["url_env"],
}
SECRETS = {"url_env": True}
# Incoming webhooks have no idempotency key: a re-send shows twice, so sends are
# recorded as pending first and a re-send after a crash is marked as possibly repeated.
DEDUPLICATES = False
REPEAT_NOTE = "Possibly a repeat: an earlier run stopped while sending this message."
ICON = {"critical": ":red_circle:", "high": ":large_orange_circle:",
        "medium": ":large_yellow_circle:", "low": ":white_circle:", "info": ":white_circle:"}


def _field(label: str, value: Any) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{slack(one_line(value, 300))}"}


def blocks(delivery: Delivery, link: str | None) -> list[dict[str, Any]]:
    """The Block Kit blocks of one message."""
    facts = details(delivery, link)
    head = one_line(summary(delivery), 150)  # plain_text: Slack renders it literally
    out: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": head}}]
    if delivery.is_test:
        return out
    fields = [
        _field("Severity", f"{ICON.get(delivery.severity, '')} {delivery.severity}"),
        _field("Status", facts["status"] or delivery.action),
        _field("Principal", facts["principal"] or "-"),
        _field("Access key", facts["access_key"] or "-"),
        _field("Account", facts["account"] or "-"),
        _field("Source IPs", ", ".join(facts["source_ips"][:5]) or "-"),
    ]
    if "alerts" in facts:
        fields += [_field("Alerts", facts["alerts"]), _field("Remediation", facts["remediation"])]
    out.append({"type": "section", "fields": fields[:10]})
    entities = ", ".join(facts["resources"][:8]) or "-"
    text = f"*Top entities*\n{slack(one_line(entities, 2000))}"
    out.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    notes = [f"Report: {slack(link)}"] if link else []
    if delivery.in_doubt:
        notes.append(REPEAT_NOTE)
    if notes:
        out.append({"type": "context",
                    "elements": [{"type": "mrkdwn", "text": note} for note in notes]})
    return out


def deliver(dest: Destination, batch: Sequence[Delivery], context: Context) -> list[Outcome]:
    """Post one message per delivery, in order."""
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(
        dest.secrets["url"], timeout=int(max(1, dest.policy.timeout_seconds)), retry_handlers=[]
    )

    def send(delivery: Delivery) -> str:
        link = context.link(delivery, dest.settings)
        try:
            response = client.send(text=slack(summary(delivery)), blocks=blocks(delivery, link))
        except TimeoutError:
            raise Retryable("no answer in time") from None
        except (URLError, ConnectionError, OSError) as exc:
            raise Retryable(f"connection failed ({type(exc).__name__})") from None
        retry_after = (response.headers or {}).get("Retry-After") or (
            response.headers or {}).get("retry-after")
        if isinstance(retry_after, list):
            retry_after = retry_after[0]
        return classify(response.status_code, str(response.body), retry_after)

    return one_by_one(batch, send, dest.policy)
