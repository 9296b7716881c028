"""Deterministic generator of a realistic AWS landing zone (CloudTrail, VPC Flow Logs, GuardDuty).

Entry point and CLI: ``jobs.sample_data``. Pure Python, no Spark.
"""
