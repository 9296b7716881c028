"""One measurement in a fresh process: ``python -m devtools.bench.worker KIND SPEC.json RESULT.json``.

KIND is ``trailwarden``, ``duckdb`` (the mirror baseline), ``duckdb-lean`` or ``floor``; SPEC
names the inputs (see ``devtools.bench.runner``).
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    kind, spec_path, result_path = argv
    spec = json.loads(Path(spec_path).read_text())
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    cores = int(spec["cores"])
    if kind == "trailwarden":
        from devtools.bench import trailwarden_run

        result = trailwarden_run.run(
            spec["landing"], spec["lakehouse"], Path(spec["work"]), cores,
            spec.get("detect", True), spec.get("env"),
        )
    elif kind == "duckdb":
        from devtools.bench import duckdb_run

        result = duckdb_run.run(spec["cloudtrail"], spec["vpcflow"], Path(spec["work"]), cores)
    elif kind == "duckdb-lean":
        from devtools.bench import duckdb_lean

        result = duckdb_lean.run(spec["cloudtrail"], spec["vpcflow"], Path(spec["work"]), cores)
    elif kind == "floor":
        from devtools.bench import floor

        result = floor.run(spec["cloudtrail"], spec["vpcflow"], cores)
    else:
        print(f"unknown measurement {kind!r}", file=sys.stderr)
        return 2
    Path(result_path).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
