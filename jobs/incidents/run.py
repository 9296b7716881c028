"""The incidents job: ``spark-submit.sh incidents [run|list|show|ack|resolve] [ID]``.

``run`` (the default, and what the pipeline calls after the detections) groups alerts into
``gold/incidents``, tracks fixes from CloudTrail, writes ``gold/response_metrics`` and the
reports of the incidents that changed under ``<lakehouse>/reports/``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession

from jobs.enrich import Enrichment
from jobs.incidents import store
from jobs.incidents.correlate import correlate
from jobs.incidents.evidence import Sources, pool_names
from jobs.incidents.metrics import summarize
from jobs.incidents.model import aware
from jobs.incidents.report_content import Target, when
from jobs.incidents.report_html import render_html
from jobs.incidents.report_markdown import metrics_markdown, render_markdown
from jobs.incidents.settings import Settings
from jobs.lakehouse import ALERTS
from schemas.alerts import SEVERITIES

log = logging.getLogger("trailwarden.incidents")


@dataclass
class IncidentSummary:
    """What one run did, and the incidents worth printing."""

    written: int = 0
    incidents: list[dict[str, Any]] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)
    rewritten: int = 0  # reports written this run
    unchanged_inputs: bool = False  # nothing read changed since the last run: nothing done

    def lines(self) -> list[str]:
        """One line per live incident (most severe first) and its report path."""
        live = [i for i in self.incidents if i["status"] != "merged"]
        rank = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # critical first
        out = [
            f"incidents: {len(live)} ({self.written} new or changed this run, "
            f"{self.rewritten} reports written"
            + ("; inputs unchanged since the last run)" if self.unchanged_inputs else ")")
        ]
        for i in sorted(live, key=lambda i: (rank.get(i["severity"], 9), i["incident_id"])):
            fixed = f", fixed {when(i['fixed_at'])}" if i.get("fixed_at") else ""
            out.append(
                f"  [{i['severity']}] {i['incident_id']} {i['status']}: {i['title']} "
                f"({i['actions_done']}/{i['actions_total']} actions done{fixed})"
            )
            if i["incident_id"] in self.reports:
                out.append(f"      report: {self.reports[i['incident_id']]}")
        return out


def write_reports(conf: dict[str, Any], incidents: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Write ``reports/<id>.md`` and ``.html`` for each incident; return id -> HTML path."""
    target, lakehouse, out = Target.of(conf), conf["lakehouse"], {}
    for incident in incidents:
        i = aware(incident)
        iid = store.check_incident_id(i["incident_id"])
        store.write_text(
            lakehouse, f"{store.REPORTS_DIR}/{iid}.md", render_markdown(i, target), conf
        )
        out[iid] = store.write_text(
            lakehouse, f"{store.REPORTS_DIR}/{iid}.html", render_html(i, target), conf
        )
    return out


def update_metrics(
    spark: SparkSession,
    conf: dict[str, Any],
    incidents: Sequence[dict[str, Any]],
    run_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Compute and MERGE this run's ``gold/response_metrics``; write
    ``reports/response_metrics.md``."""
    target = Target.of(conf)
    rows = summarize(
        [aware(i) for i in incidents],
        target_minutes=target.minutes,
        target_share=target.share,
        as_of=now,
        run_id=run_id,
    )
    store.write_metrics(spark, conf["lakehouse"], rows)
    store.write_text(
        conf["lakehouse"], f"{store.REPORTS_DIR}/response_metrics.md", metrics_markdown(rows), conf
    )
    return rows


def run_incidents(
    spark: SparkSession,
    conf: dict[str, Any],
    run_id: str,
    enrichment: Enrichment,
    now: datetime | None = None,
) -> IncidentSummary:
    """Correlate alerts into incidents, track fixes, MERGE, then metrics and reports. ASN lookups
    use ``enrichment``'s ranges unless ``incidents.asn`` is false.

    When no table it reads (``store.INPUTS``) has a new Delta version and the settings are those
    of the last recorded run (``_system/incident_runs``), nothing can have changed: the run only
    lists the incidents."""
    now = now or datetime.now(UTC)
    lakehouse = conf["lakehouse"]
    versions, key = store.input_versions(spark, lakehouse), store.settings_key(conf)
    summary = IncidentSummary()
    if ALERTS.name in versions and store.last_run_inputs(spark, lakehouse) == (versions, key):
        summary.unchanged_inputs = True
    elif ALERTS.name in versions:
        alerts = ALERTS.read(spark, lakehouse)
        existing = store.load_incidents(spark, lakehouse)
        cloudtrail, flows, dns = store.read_silver(spark, lakehouse)
        use_asn = bool((conf.get("incidents", {}) or {}).get("asn", True))
        ranges = enrichment.with_asn(use_asn).asn_ranges
        sources = Sources(alerts, cloudtrail, flows, ranges, dns, pool_names(enrichment.intel))
        rows = correlate(sources, existing, Settings.of(conf), run_id=run_id, now=now)
        summary.written = store.merge_incidents(spark, lakehouse, rows)
        changed = [r for r in rows if r["status"] != "merged"]
        summary.reports = write_reports(conf, changed)
        summary.rewritten = len(summary.reports)
    summary.incidents = [aware(i) for i in store.load_incidents(spark, lakehouse)]
    for i in summary.incidents:  # reports of unchanged incidents already exist
        path = f"{lakehouse.rstrip('/')}/{store.REPORTS_DIR}/{i['incident_id']}.html"
        summary.reports.setdefault(i["incident_id"], path)
    if summary.unchanged_inputs:
        log.info("incidents: inputs unchanged; %d in total", len(summary.incidents))
        return summary
    update_metrics(spark, conf, summary.incidents, run_id, now)
    if ALERTS.name in versions:
        store.record_run(spark, lakehouse, run_id, versions, key, summary.written,
                         summary.rewritten, datetime.now(UTC))
    log.info("incidents: %d written, %d in total", summary.written, len(summary.incidents))
    return summary
