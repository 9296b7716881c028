"""The sample's mission incident through notify: one PagerDuty trigger (dedup_key = its id), no
repeat on a rerun, then one resolve once the responder's late clean-up files are in; Slack gets
one message per incident at high or above. Reuses the shared ``sample_lake`` stages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.delivery_fixtures import notify
from tests.support.fake_pagerduty import FakePagerDuty
from tests.support.fake_slack import FakeSlack
from tests.support.sample_lake import SampleLake

KEY = "R0UT1NGKEY0123456789abcdef012345"


@pytest.fixture
def servers() -> Iterator[tuple[FakePagerDuty, FakeSlack]]:
    pd, slack = FakePagerDuty(KEY), FakeSlack()
    pd.server.start()
    slack.server.start()
    yield pd, slack
    pd.server.stop()
    slack.server.stop()


def test_mission_incident_triggers_once_then_resolves_after_the_clean_up(
    sample_lake: SampleLake, servers: tuple[FakePagerDuty, FakeSlack]
) -> None:
    pd, slack = servers
    late_already = sample_lake.second is not None  # another module ran the late stage first
    lake = sample_lake.stage1()
    mission = next(i for i in lake.first.incidents if i["severity"] == "critical")
    iid = mission["incident_id"]
    dests = {
        "pd": {"type": "pagerduty", "url": pd.url, "routing_key_env": "PD_KEY"},
        "chat": {"type": "slack", "url_env": "SLACK_URL", "min_severity": "high"},
    }
    env = {"PD_KEY": KEY, "SLACK_URL": slack.url}
    conf_lake = lake.conf["lakehouse"]
    assert notify(spark := lake.spark, conf_lake, dests, env).failed == []
    if not late_already:
        assert [e["event_action"] for e in pd.events("trigger", iid)] == ["trigger"]
        assert pd.events("resolve", iid) == []
        live = ("open", "acknowledged")
        high = [i["incident_id"] for i in lake.first.incidents
                if i["severity"] in ("high", "critical") and i["status"] in live]
        assert sorted(m["blocks"][0]["text"]["text"].split()[1] for m in slack.messages) == (
            sorted(high))
    assert notify(spark, conf_lake, dests, env).failed == []  # a rerun sends nothing new
    requests_before_late = len(pd.server.requests)

    lake.stage2()
    assert notify(spark, conf_lake, dests, env).failed == []
    assert notify(spark, conf_lake, dests, env).failed == []
    assert len(pd.events("trigger", iid)) == 1
    assert len(pd.events("resolve", iid)) == 1
    assert pd.alerts[iid] == "resolved"
    assert pd.accepted.index(pd.events("trigger", iid)[0]) < pd.accepted.index(
        pd.events("resolve", iid)[0])
    trigger = pd.events("trigger", iid)[0]["payload"]
    assert trigger["severity"] == "critical"
    assert trigger["custom_details"]["access_key"] == mission["access_key_id"]
    assert trigger["custom_details"]["report"].endswith(f"reports/{iid}.html")
    if not late_already:
        assert len(pd.server.requests) > requests_before_late
