"""One JSON POST with requests, its outcome classified for the retry policy."""

from __future__ import annotations

import requests

from jobs.delivery.retry import Retryable, classify


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> str:
    """POST ``body``; the response text on 2xx, Retryable on 429/5xx/network faults, else
    DeliveryError. The URL is never part of an error (it may hold a secret token)."""
    try:
        response = requests.post(
            url, data=body, headers={"Content-Type": "application/json", **headers},
            timeout=timeout, allow_redirects=False,
        )
    except requests.Timeout:
        raise Retryable(f"no answer within {timeout:g} s") from None
    except requests.ConnectionError as exc:
        raise Retryable(f"connection failed ({type(exc).__name__})") from None
    return classify(response.status_code, response.text, response.headers.get("Retry-After"))
