"""A moto server on 127.0.0.1 for the S3 tests (S3, DynamoDB, SQS), and the environment that
points boto3, s3a and the DynamoDB LogStore at it. Never real AWS: credentials are dummies."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

REGION = "us-east-1"


@dataclass(frozen=True)
class MotoEndpoint:
    url: str

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (spark-submit.sh) that talks to this server only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ENDPOINT_URL=self.url,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        return env

    def point_here(self, monkeypatch: Any) -> None:
        """Point this process's boto3 clients at this server, for one test (``monkeypatch``)."""
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            monkeypatch.delenv(name)
        for name, value in self.env().items():
            if name.startswith("AWS_"):
                monkeypatch.setenv(name, value)

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(s3={"addressing_style": "path"}),
        )


def moto_endpoint(timeout: float = 60) -> Iterator[MotoEndpoint]:
    """Start a moto server process on a free 127.0.0.1 port; stop it afterwards.

    A process of its own, not a thread of the test process: its request handling then does not
    compete with the tests' Python for the interpreter lock.
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, "the moto server exited at start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"moto server not listening after {timeout}s"
                time.sleep(0.2)
        yield MotoEndpoint(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def upload_tree(s3: Any, root: Path, bucket: str, prefix: str = "") -> int:
    """Upload every file under ``root`` to ``s3://bucket/prefix``; return the number uploaded."""
    from concurrent.futures import ThreadPoolExecutor

    files = [p for p in sorted(root.rglob("*")) if p.is_file()]

    def put(path: Path) -> None:
        s3.put_object(Bucket=bucket, Key=prefix + path.relative_to(root).as_posix(),
                      Body=path.read_bytes())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, files))
    return len(files)
