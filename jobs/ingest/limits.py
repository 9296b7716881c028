"""Per-file limits, checked before Spark reads a file, so that no single file can exhaust memory.

Spark reads each landing file as one value in executor memory. A file over
``ingest.max_file_bytes`` as stored, or a gzip file that inflates past
``ingest.max_decompressed_bytes`` (a gzip bomb), is never handed to Spark: it is quarantined
with its reason and recorded in the manifest like any other file, and the rest of the run lands.

Most files are cleared by arithmetic alone: deflate cannot expand data more than 1032-fold, so a
gzip file of ``n`` bytes inflates to at most ``1032 * n`` (concatenated members only lower the
ratio). Only a gzip file large enough to exceed the limit by that bound is inflated here, as a
stream (Python's zlib, a megabyte at a time, every member), and only until the count passes the
limit; its bytes are never held whole. Other codecs Hadoop would choose by file name (bzip2,
zstd, ...) are not AWS delivery formats and are quarantined unread.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from jobs.ingest.landing import LandingFile

log = logging.getLogger("trailwarden.ingest")

DEFLATE_MAX_RATIO = 1032
_CHUNK = 1 << 20
# Codecs Hadoop picks by file extension and would inflate without bound.
_OTHER_CODECS = (".bz2", ".deflate", ".zst", ".lz4", ".snappy", ".br")


@dataclass(frozen=True)
class FileLimits:
    """``ingest.max_file_bytes`` and ``ingest.max_decompressed_bytes``."""

    max_file_bytes: int
    max_decompressed_bytes: int

    @classmethod
    def from_conf(cls, ingest_conf: dict[str, Any]) -> FileLimits:
        return cls(int(ingest_conf.get("max_file_bytes", 128 << 20)),
                   int(ingest_conf.get("max_decompressed_bytes", 256 << 20)))


def inflated_size(stream: BinaryIO, cap: int) -> int | None:
    """Bytes a gzip ``stream`` inflates to, counting every member, but at most ``cap + 1`` (the
    count stops there). None when it is not valid gzip (Spark's read then fails and the file is
    diagnosed like any corrupt one)."""
    total = 0
    inflater = zlib.decompressobj(wbits=31)
    try:
        while chunk := stream.read(_CHUNK):
            data = chunk
            while data:
                total += len(inflater.decompress(data, _CHUNK))
                if total > cap:
                    return total
                if inflater.eof:  # the next member starts in what is left
                    data = inflater.unused_data
                    inflater = zlib.decompressobj(wbits=31)
                else:
                    data = inflater.unconsumed_tail
    except zlib.error:
        return None
    return total


def needs_inflating(file: LandingFile, limits: FileLimits) -> bool:
    """Whether ``file`` is gzip and large enough that it might inflate past the limit."""
    return (file.path.endswith(".gz")
            and file.size * DEFLATE_MAX_RATIO > limits.max_decompressed_bytes)


def size_reason(file: LandingFile, limits: FileLimits) -> str | None:
    """Why ``file`` must not be read, judged from its name and listed size alone."""
    if file.size > limits.max_file_bytes:
        return f"file is larger than ingest.max_file_bytes ({limits.max_file_bytes} bytes)"
    codec = next((c for c in _OTHER_CODECS if file.path.endswith(c)), None)
    if codec:
        return f"compressed as {codec}, not gzip, the only compression AWS delivers"
    return None


def screen(
    files: Iterable[LandingFile], limits: FileLimits, open_file: Callable[[str], BinaryIO],
    threads: int = 4,
) -> dict[str, str]:
    """Map each file of ``files`` that must not be read to the reason; ``open_file(path)``
    opens a landing file for streaming. Gzip files are inflated on ``threads`` threads (zlib
    releases the interpreter lock)."""
    reasons: dict[str, str] = {}
    suspects = []
    for f in files:
        reason = size_reason(f, limits)
        if reason:
            reasons[f.path] = reason
        elif needs_inflating(f, limits):
            suspects.append(f)

    def inflate(file: LandingFile) -> tuple[str, int | None]:
        with open_file(file.path) as stream:
            return file.path, inflated_size(stream, limits.max_decompressed_bytes)

    if suspects:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for path, size in pool.map(inflate, suspects):
                if size is not None and size > limits.max_decompressed_bytes:
                    reasons[path] = ("gzip inflates past ingest.max_decompressed_bytes "
                                     f"({limits.max_decompressed_bytes} bytes)")
    log.info("limits: %d large gzip files inflated to check them; %d files refused",
             len(suspects), len(reasons))
    return reasons
