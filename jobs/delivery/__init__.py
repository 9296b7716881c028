"""Delivery: alerts and incidents to PagerDuty, Slack, SNS, webhooks and OCSF files, exactly once,
from the Change Data Feed of ``gold/alerts`` and ``gold/incidents`` (docs/alerting.md)."""
