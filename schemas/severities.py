"""Alert severities, lowest first: plain Python (no Spark import), so the commands that run
without a JVM can validate ``--severity``; ``schemas.alerts`` re-exports them."""

SEVERITIES = ("info", "low", "medium", "high", "critical")
