"""A detect run skips the silver scans when no input table has a new version since the windows
were evaluated (``jobs.detect.state.up_to_date``): the decision, without Spark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.detect.state import Covered, never_evaluated_inputs, up_to_date

H = datetime(2026, 11, 20, 14, tzinfo=UTC)
CT, FLOWS = "cloudtrail_events", "vpc_flows"
DETECTIONS = [("TW-CT-001", (CT,)), ("TW-VPC-001", (FLOWS,)), ("TW-X-001", (CT, FLOWS))]


def covered(**versions: int) -> Covered:
    return Covered(False, dict(versions))


STATE = {
    "TW-CT-001": {H - timedelta(hours=1): covered(**{CT: 3}), H: covered(**{CT: 5})},
    "TW-VPC-001": {H: covered(**{FLOWS: 7})},
    "TW-X-001": {H: covered(**{CT: 5, FLOWS: 7})},
}


def test_up_to_date_when_every_newest_evaluation_read_the_current_versions() -> None:
    assert up_to_date(DETECTIONS, STATE, {CT: 5, FLOWS: 7}, set())


def test_a_new_version_of_any_input_means_work() -> None:
    assert not up_to_date(DETECTIONS, STATE, {CT: 6, FLOWS: 7}, set())
    assert not up_to_date(DETECTIONS, STATE, {CT: 5, FLOWS: 8}, set())


def test_a_detection_never_evaluated_is_up_to_date_only_over_empty_or_absent_inputs() -> None:
    detections = [*DETECTIONS, ("TW-DNS-001", ("dns_queries",))]
    assert never_evaluated_inputs(detections, STATE) == {"dns_queries"}
    versions = {CT: 5, FLOWS: 7, "dns_queries": 0}
    assert not up_to_date(detections, STATE, versions, set())
    assert up_to_date(detections, STATE, versions, {"dns_queries"})
    assert up_to_date(detections, STATE, {CT: 5, FLOWS: 7}, set())  # no DNS table at all
