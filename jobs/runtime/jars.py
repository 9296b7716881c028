"""Runtime prerequisites: the Java check and the project-owned cache of resolved Maven jars.

``python -m jobs.runtime.jars java`` checks Java; ``python -m jobs.runtime.jars jars GROUP...``
prints the
comma-separated jar paths of the groups, resolving them once with Spark's package resolver.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from jobs.runtime.config import PROJECT_ROOT

DELTA_VERSION = "4.4.0"  # newest delta-spark_4.1 artifact on Maven Central
HADOOP_VERSION = "3.4.2"  # the hadoop-client-api version the pyspark 4.1 wheel ships

JAR_GROUPS: dict[str, list[str]] = {
    "delta": [f"io.delta:delta-spark_4.1_2.13:{DELTA_VERSION}"],
    # hadoop-aws brings the AWS SDK v2 bundle it was built with (2.29.52 for 3.4.2). Maven Central
    # serves no io.delta:delta-storage-s3-dynamodb (every version 404s), so the s3 group adds the
    # project's own DynamoDB LogStore, compiled once from jvm/logstore (jobs/runtime/logstore.py).
    "s3": [f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}"],
}
MIN_JAVA = 17


class RuntimeProblem(RuntimeError):
    """A missing prerequisite, reported as one sentence."""


def java_major(version_output: str) -> int | None:
    """Return the major Java version from ``java -version`` output."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def check_java() -> int:
    """Raise unless a Java 17+ runtime is on JAVA_HOME or PATH; return its major version."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise RuntimeProblem("Java 17 or newer is required: install a JDK and put java on PATH.")
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        raise RuntimeProblem(f"Java {MIN_JAVA} or newer is required, found {major} at {java}.")
    return major


def jar_cache() -> Path:
    """The directory that holds resolved jars (``TRAILWARDEN_JAR_CACHE`` or ``.cache/jars``)."""
    return Path(os.environ.get("TRAILWARDEN_JAR_CACHE", PROJECT_ROOT / ".cache" / "jars"))


def _spark_submit() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-submit")


def _artifact(jar_name: str) -> str:
    """``org.group_artifact-1.2.3.jar`` (Ivy) or ``artifact-1.2.3.jar`` -> ``artifact``."""
    head, sep, tail = jar_name.partition("_")
    base = tail if sep and "-" not in head else jar_name
    return re.sub(r"-\d[\w.\-]*\.jar$", "", base)


def _shipped_by_spark(jar_name: str) -> bool:
    """True for transitive dependencies that the pyspark install already ships (any version)."""
    import pyspark

    shipped = {_artifact(p.name) for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    return _artifact(jar_name) in shipped


def resolve_jars(group: str) -> list[str]:
    """Return the jar paths of ``group``, resolving them from Maven once into the cache."""
    jars = _resolve_maven(group)
    if group == "s3":
        from jobs.runtime.logstore import build_logstore_jar

        jars.append(build_logstore_jar(_resolve_maven("delta") + jars))
    return jars


def _resolve_maven(group: str) -> list[str]:
    if group not in JAR_GROUPS:
        raise RuntimeProblem(f"Unknown jar group {group!r}; known: {', '.join(JAR_GROUPS)}.")
    cache = jar_cache()
    listing = cache / f"{group}.txt"
    jars = _cached(listing)
    if jars:
        return jars
    cache.mkdir(parents=True, exist_ok=True)
    # Jobs starting together on a fresh host resolve one at a time; the others reuse the result.
    with (cache / f"{group}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _cached(listing) or _download(group, cache, listing)


def _cached(listing: Path) -> list[str]:
    """The jars a previous resolution listed, if every one is still there."""
    jars = listing.read_text().split() if listing.is_file() else []
    return jars if jars and all(Path(j).is_file() for j in jars) else []


def _download(group: str, cache: Path, listing: Path) -> list[str]:
    ivy = cache / f"ivy-{group}"
    noop = cache / "noop.py"
    noop.write_text("")
    cmd = [
        _spark_submit(),
        "--packages", ",".join(JAR_GROUPS[group]),
        "--conf", f"spark.jars.ivy={ivy}",
        str(noop),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    jars = sorted(str(p) for p in (ivy / "jars").glob("*.jar") if not _shipped_by_spark(p.name))
    if result.returncode != 0 or not jars:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeProblem(f"Could not resolve the {group} jars from Maven: {tail[0]}")
    staged = listing.with_suffix(".tmp")
    staged.write_text("\n".join(jars) + "\n")
    os.replace(staged, listing)  # readers outside the lock see the whole list or none
    return jars


def main(argv: list[str]) -> int:
    """CLI: ``java`` or ``jars GROUP...``."""
    try:
        if argv[:1] == ["java"]:
            check_java()
            return 0
        if argv[:1] == ["jars"] and len(argv) > 1:
            print(",".join(j for g in argv[1:] for j in resolve_jars(g)))
            return 0
    except RuntimeProblem as exc:
        print(f"trailwarden: {exc}", file=sys.stderr)
        return 2
    print("usage: python -m jobs.runtime.jars java | jars GROUP...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
