"""Data quality: declared checks (``checks``) run as great-expectations suites (``validate``)."""
