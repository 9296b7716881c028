"""Build the project's DynamoDB-backed Delta LogStore (``jvm/logstore``) into the jar cache.

Maven Central serves no ``io.delta:delta-storage-s3-dynamodb``, so the store that gives Delta
tables on S3 mutually exclusive commits is compiled here, once per source revision, against the
delta-storage, Hadoop and AWS SDK jars the job runs with. It reads the same configuration keys
and writes the same DynamoDB items as Delta's own store (see the Java file's header).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from jobs.runtime.config import PROJECT_ROOT

LOGSTORE_CLASS = "io.trailwarden.delta.S3DynamoDBLogStore"
SOURCE_DIR = PROJECT_ROOT / "jvm" / "logstore" / "src"
# Compile-time dependencies that the pyspark install ships (any version of them).
_SPARK_SHIPPED = ("hadoop-client-api-", "slf4j-api-")
_NEEDED = ("delta-storage-", "awssdk_bundle-")


def _sources() -> list[Path]:
    return sorted(SOURCE_DIR.rglob("*.java"))


def _javac() -> str:
    java_home = os.environ.get("JAVA_HOME")
    javac = str(Path(java_home) / "bin" / "javac") if java_home else shutil.which("javac")
    if not javac or not Path(javac).exists():
        from jobs.runtime.jars import RuntimeProblem

        raise RuntimeProblem(
            "javac is needed once to build the DynamoDB LogStore for s3a:// tables: install a JDK "
            "(e.g. openjdk-17-jdk-headless)."
        )
    return javac


def _classpath(jars: list[str]) -> list[str]:
    import pyspark

    shipped = Path(pyspark.__file__).parent / "jars"
    from_spark = [str(p) for p in shipped.glob("*.jar") if p.name.startswith(_SPARK_SHIPPED)]
    return from_spark + [j for j in jars if any(n in Path(j).name for n in _NEEDED)]


def build_logstore_jar(jars: list[str]) -> str:
    """The path of the LogStore jar, compiling it into the jar cache unless already there."""
    from jobs.runtime.jars import RuntimeProblem, jar_cache

    sources = _sources()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]
    target = jar_cache() / f"trailwarden-logstore-{digest}.jar"
    if target.is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        classes = Path(tmp) / "classes"
        cmd = [_javac(), "--release", "17", "-nowarn", "-d", str(classes),
               "-cp", os.pathsep.join(_classpath(jars)), *map(str, sources)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = result.stderr.strip().splitlines()[:1] or ["no output"]
            raise RuntimeProblem(f"Could not build the DynamoDB LogStore: {tail[0]}")
        staged = Path(tmp) / target.name
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
            for cls in sorted(classes.rglob("*.class")):
                jar.write(cls, cls.relative_to(classes).as_posix())
        os.replace(staged, target)  # atomic: concurrent builders each publish a whole jar
    return str(target)
