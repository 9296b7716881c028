#!/usr/bin/env bash
# The one way to run a trailwarden job, locally or on a cluster:
#   ./spark-submit.sh <job> [--master URL] [job options]
# Ships jobs/ and schemas/ as --py-files, adds the cached Delta (and, for s3a://, S3) jars,
# and takes the master from --master, then SPARK_MASTER (default local[*]).
# Commands that only read (alerts, incidents list|show), every --help and usage errors run as
# plain Python without a JVM; jobs/main.py decides which (WITHOUT_SPARK, needs_spark).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${TRAILWARDEN_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || { echo "trailwarden: $PYTHON not found; run 'make setup' first." >&2; exit 2; }
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export TRAILWARDEN_HOME="$ROOT"  # conf/, schemas/ and detections/ for the driver

job="${1:-help}"; shift || true
master="${SPARK_MASTER:-local[*]}"
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --master=*) master="${1#--master=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
# The sample generator is plain Python (devtools/, never shipped to Spark): no JVM.
if [ "$job" = "sample" ]; then
  exec "$PYTHON" -m devtools.sample ${args[@]+"${args[@]}"}
fi
if ! "$PYTHON" -m jobs.main --needs-spark "$job" ${args[@]+"${args[@]}"}; then
  exec "$PYTHON" -m jobs.main "$job" ${args[@]+"${args[@]}"}
fi

"$PYTHON" -m jobs.runtime.jars java

groups="delta"
case " ${args[*]:-} " in *s3a://*) groups="delta s3" ;; esac
jars="$("$PYTHON" -m jobs.runtime.jars jars $groups)"

# The Python code ships as a zip named by its content: concurrent runs of different checkouts
# or revisions never read each other's (or a half-written) zip.
dist="$ROOT/.cache/dist"
mkdir -p "$dist"
zip_file="$(cd "$ROOT" && "$PYTHON" -c 'import hashlib, os, sys, tempfile, zipfile, pathlib
files = sorted(p for pkg in ("jobs", "schemas") for p in pathlib.Path(pkg).rglob("*.py"))
digest = hashlib.sha256(b"".join(str(p).encode() + b"\0" + p.read_bytes() for p in files))
target = pathlib.Path(sys.argv[1]) / f"trailwarden-py-{digest.hexdigest()[:16]}.zip"
if not target.is_file():
    fd, staged = tempfile.mkstemp(dir=sys.argv[1], suffix=".tmp")
    with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            z.write(p)
    os.replace(staged, target)
print(target)' "$dist")"

SPARK_HOME="$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME PYSPARK_PYTHON="${PYSPARK_PYTHON:-$PYTHON}" PYSPARK_DRIVER_PYTHON="$PYTHON"
cd "$ROOT"
exec "$SPARK_HOME/bin/spark-submit" \
  --master "$master" \
  --name "trailwarden-$job" \
  --driver-memory "${SPARK_DRIVER_MEMORY:-4g}" \
  --jars "$jars" \
  --py-files "$zip_file" \
  --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
  --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:$ROOT/conf/log4j2.properties" \
  "$ROOT/jobs/main.py" "$job" ${args[@]+"${args[@]}"}
