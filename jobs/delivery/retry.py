"""Sending with bounded retries (tenacity): backoff on 429, 5xx, timeouts and dropped
connections, honouring ``Retry-After``; a message that still fails stops its destination's batch.
A message the receiver rejects as malformed (400, 413, 422) is not retried and does not stop the
batch: the next ones still go."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

from jobs.delivery.model import Delivery, Outcome
from jobs.delivery.settings import RetryPolicy

log = logging.getLogger("trailwarden.notify")

# Answers that refuse one message rather than the destination (bad request, too large, invalid).
REJECTED = frozenset({400, 413, 422})


class DeliveryError(Exception):
    """A delivery that did not succeed; the message is one sentence without secrets."""


class Rejected(DeliveryError):
    """The receiver refused this message itself (400, 413, 422): resending it unchanged in the
    same run would fail the same way, and it must not hold back the messages after it."""


class Retryable(DeliveryError):
    """Throttled, a server error or a network fault: worth another try (after ``retry_after``)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify(status: int, body: str, retry_after: str | None) -> str:
    """The response text for a 2xx; raise Retryable for 429/5xx, Rejected for a refused message,
    DeliveryError for the rest (401, 403, 404: the destination itself is misconfigured)."""
    if 200 <= status < 300:
        return f"{status} {body[:300]}".strip()
    if status == 429 or status >= 500:
        raise Retryable(f"HTTP {status}", retry_after_seconds(retry_after))
    if status in REJECTED:
        raise Rejected(f"HTTP {status}: {body[:200]}")
    raise DeliveryError(f"HTTP {status}: {body[:200]}")


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        backoff = policy.backoff_seconds * 2 ** (state.attempt_number - 1)
        exc = state.outcome.exception() if state.outcome else None
        return max(backoff, getattr(exc, "retry_after", None) or 0.0)

    return wait


def send_with_retries(send: Callable[[], str], policy: RetryPolicy) -> tuple[str, int]:
    """Call ``send`` until it succeeds or the policy's count or time runs out; return its
    response and the attempts made. Raises the last DeliveryError."""
    attempts = 0

    def attempt() -> str:
        nonlocal attempts
        attempts += 1
        return send()

    retrying = Retrying(
        stop=stop_after_attempt(policy.retries + 1) | stop_before_delay(policy.retry_seconds),
        wait=_wait(policy),
        retry=retry_if_exception_type(Retryable),
        reraise=True,
    )
    return retrying(attempt), attempts


def one_by_one(
    batch: Sequence[Delivery], send: Callable[[Delivery], str], policy: RetryPolicy
) -> list[Outcome]:
    """Send each delivery in order; a rejected one is recorded and the next ones still go; after
    the first that fails otherwise, stop (the destination is down or misconfigured; the rest wait
    for the next run, where they get the same ids)."""
    outcomes = []
    for delivery in batch:
        try:
            response, _ = send_with_retries(lambda d=delivery: send(d), policy)  # type: ignore[misc]
        except Rejected as exc:
            log.warning("%s: %s %s rejected: %s", delivery.destination, delivery.action,
                        delivery.object_id, exc)
            outcomes.append(Outcome(delivery, "rejected", error=str(exc)))
            continue
        except DeliveryError as exc:
            log.warning("%s: %s %s failed: %s", delivery.destination, delivery.action,
                        delivery.object_id, exc)
            outcomes.append(Outcome(delivery, "failed", error=str(exc)))
            break
        outcomes.append(Outcome(delivery, "sent", response=response))
    return outcomes
