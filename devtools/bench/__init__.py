"""trailwarden's benchmark: ``python -m devtools.bench --scale S`` (``make bench SCALE=S``).

One invocation generates (or reuses) a deterministic landing zone, runs the pipeline with
per-stage figures, runs the DuckDB baseline and the gzip+orjson floor on the same files,
measures an incremental run (and, with ``--scaling``, 1x/2x/4x the data), then writes
``devtools/bench/out/results.json`` and ``docs/benchmarks.md``. Each measured system runs in its own
process, so JVM start, caches and peak memory never leak from one measurement into another.
"""
