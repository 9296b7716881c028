"""A JSON POST of the alert or incident document per change, signed
``X-Trailwarden-Signature: sha256=<HMAC-SHA256 of the body>`` with the secret from
``secret_env``, and carrying ``X-Trailwarden-Delivery: <delivery id>`` for deduplication."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from jobs.delivery.context import Context
from jobs.delivery.destinations.http_post import post
from jobs.delivery.model import Delivery, Outcome
from jobs.delivery.render import document
from jobs.delivery.retry import one_by_one
from jobs.delivery.settings import Destination

SCHEMA: dict[str, Any] = {
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "url_env": {"type": "string", "minLength": 1},
        "secret_env": {"type": "string", "minLength": 1},
    },
    "required": ["secret_env"],
    "oneOf": [{"required": ["url"]}, {"required": ["url_env"]}],
}
SECRETS = {"url_env": False, "secret_env": True}
# A re-send carries the same X-Trailwarden-Delivery id for the receiver to drop.
DEDUPLICATES = True
SIGNATURE_HEADER = "X-Trailwarden-Signature"
DELIVERY_HEADER = "X-Trailwarden-Delivery"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``, as receivers recompute it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(dest: Destination, batch: Sequence[Delivery], context: Context) -> list[Outcome]:
    """POST one signed document per delivery, in order."""
    url = dest.secrets.get("url") or dest.settings["url"]

    def send(delivery: Delivery) -> str:
        body = json.dumps(
            document(delivery, context.link(delivery, dest.settings)), sort_keys=True
        ).encode()
        headers = {
            SIGNATURE_HEADER: signature(dest.secrets["secret"], body),
            DELIVERY_HEADER: delivery.delivery_id,
        }
        return post(url, body, headers, dest.policy.timeout_seconds)

    return one_by_one(batch, send, dest.policy)
