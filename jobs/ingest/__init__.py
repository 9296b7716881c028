"""Ingest: landing files -> silver Delta tables, quarantine, manifest and accounting."""
