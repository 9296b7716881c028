"""boto3 clients, created on demand at the job edge (never at import time).

Credentials come from the default provider chain. Endpoints honour ``AWS_ENDPOINT_URL_S3`` /
``AWS_ENDPOINT_URL`` as the AWS SDKs do, or ``s3.endpoint`` in conf for S3-compatible stores.
"""

from __future__ import annotations

import re
from typing import Any


def s3_client(conf: dict[str, Any]) -> Any:
    """An S3 client configured from the ``s3`` section (endpoint, region, path-style)."""
    import boto3
    from botocore.config import Config

    s3 = conf.get("s3", {}) or {}
    style = "path" if s3.get("path_style_access") else "auto"
    return boto3.client(
        "s3",
        endpoint_url=s3.get("endpoint") or None,  # None: boto3 reads AWS_ENDPOINT_URL(_S3)
        region_name=s3.get("region") or None,
        config=Config(s3={"addressing_style": style}, retries={"mode": "standard"}),
    )


def sns_client(conf: dict[str, Any], region: str | None = None) -> Any:
    """An SNS client for ``region`` (a topic's region; else AWS_REGION and the AWS defaults).

    Endpoints honour ``AWS_ENDPOINT_URL_SNS`` / ``AWS_ENDPOINT_URL`` as the AWS SDKs do. One
    attempt per call: the delivery step owns retries (jobs/delivery/retry.py).
    """
    import boto3
    from botocore.config import Config

    timeout = float((conf.get("sns", {}) or {}).get("timeout_seconds", 10))
    return boto3.client(
        "sns",
        region_name=region or None,
        config=Config(retries={"max_attempts": 1, "mode": "standard"},
                      connect_timeout=timeout, read_timeout=timeout),
    )


def sqs_client(conf: dict[str, Any], queue_url: str) -> Any:
    """An SQS client for the queue at ``queue_url``, in the region its host names
    (``sqs.<region>.amazonaws.com``), else ``s3.region``, else the AWS defaults.

    Endpoints honour ``AWS_ENDPOINT_URL_SQS`` / ``AWS_ENDPOINT_URL`` as the AWS SDKs do.
    """
    import boto3
    from botocore.config import Config

    match = re.match(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/", queue_url)
    region = match.group(1) if match else (conf.get("s3", {}) or {}).get("region") or None
    return boto3.client("sqs", region_name=region, config=Config(retries={"mode": "standard"}))
