"""Deterministic generator of a realistic AWS landing zone (CloudTrail, VPC Flow Logs, GuardDuty).

Entry point and CLI: ``devtools.sample.cli``. Pure Python, no Spark.
"""
