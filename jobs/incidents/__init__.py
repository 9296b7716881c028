"""Incidents: alerts grouped by shared entities, with scope, remediation plan and fix tracking."""
