"""The sample landing zone run through the pipeline once per test session, in two stages that
test modules share instead of each generating and ingesting the sample again.

Stage 1: generate, ingest, detect and correlate (``run-1``). Stage 2: the responder's clean-up
calls land late in the landing zone and ingest, detect and correlate run again (``run-late``).
Each stage runs on first use; stage 2 only adds to what stage 1 wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from devtools.sample.cli import generate, write_remediation
from jobs.detect.run import Summary, run_detections
from jobs.enrich import Enrichment
from jobs.incidents.run import IncidentSummary, run_incidents
from jobs.ingest.run import run_ingest
from jobs.runtime.config import load_config

FIRST_RUN, LATE_RUN = "run-1", "run-late"


@dataclass
class SampleLake:
    """The shared landing zone and lakehouse, and what each stage's runs returned."""

    spark: SparkSession
    root: Path
    enrichment: Enrichment
    conf: dict[str, Any] = field(init=False)
    detected: Summary | None = None
    first: IncidentSummary | None = None
    second: IncidentSummary | None = None

    def __post_init__(self) -> None:
        self.conf = load_config(
            "test", [f"landing={self.landing}", f"lakehouse={self.root / 'lake'}"]
        )

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def stage1(self) -> SampleLake:
        """Sample -> ingest -> detect -> incidents, once."""
        if self.first is None:
            generate(self.landing)
            run_ingest(self.spark, self.conf, FIRST_RUN)
            self.detected = run_detections(self.spark, self.conf, FIRST_RUN, self.enrichment)
            self.first = run_incidents(self.spark, self.conf, FIRST_RUN, self.enrichment)
        return self

    def stage2(self) -> SampleLake:
        """The clean-up calls arrive late; ingest, detect and incidents run again, once."""
        self.stage1()
        if self.second is None:
            write_remediation(self.landing)
            run_ingest(self.spark, self.conf, LATE_RUN)
            run_detections(self.spark, self.conf, LATE_RUN, self.enrichment)
            self.second = run_incidents(self.spark, self.conf, LATE_RUN, self.enrichment)
        return self
