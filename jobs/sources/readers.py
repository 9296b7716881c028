"""Reading landing files into DataFrames (I/O edge), and saying why a file could not be read."""

from __future__ import annotations

import gzip
import zlib

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

_DIAGNOSE_MAX_BYTES = 256 * 1024 * 1024


def read_whole_files(spark: SparkSession, paths: list[str]) -> DataFrame:
    """One row per readable file: ``source_file``, ``value`` (decompressed text).

    Files that cannot be read (truncated or corrupt compression) yield no row; the caller finds
    them by difference and asks :func:`diagnose_unreadable` why.
    """
    return (
        spark.read.option("ignoreCorruptFiles", "true")
        .text(paths, wholetext=True)
        .select(F.col("_metadata.file_path").alias("source_file"), "value")
    )


def explain_bytes(name: str, content: bytes) -> str:
    """One sentence on why ``content`` (the raw bytes of file ``name``) gave no records."""
    if not content:
        return "empty file"
    if name.endswith(".gz") or content[:2] == b"\x1f\x8b":
        try:
            text = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as exc:
            return f"truncated or corrupt gzip: {exc}"
        return "empty file after decompression" if not text.strip() else "file could not be read"
    return "file could not be read"


def diagnose_unreadable(spark: SparkSession, sizes: dict[str, int]) -> dict[str, str]:
    """Map each path (with its listed size) that produced no row to the reason."""
    reasons = {p: "empty file" for p, size in sizes.items() if size == 0}
    paths = [p for p in sizes if p not in reasons]
    if not paths:
        return reasons
    rows = (
        spark.read.format("binaryFile")
        .load(paths)
        .select(
            "path",
            F.when(F.col("length") <= _DIAGNOSE_MAX_BYTES, F.col("content")).alias("content"),
        )
        .collect()
    )
    found = {
        r.path: explain_bytes(r.path, bytes(r.content)) if r.content is not None
        else "file too large to diagnose and could not be read"
        for r in rows
    }
    return reasons | {p: found.get(p, "file disappeared before it could be read") for p in paths}
