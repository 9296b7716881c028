"""The log sources trailwarden reads: the only place a source is named (``jobs.sources.base``)."""

from __future__ import annotations

from jobs.sources.base import LogSource
from jobs.sources.cloudtrail import CLOUDTRAIL
from jobs.sources.dns import DNS
from jobs.sources.guardduty import GUARDDUTY
from jobs.sources.vpcflow import VPCFLOW

SOURCES: tuple[LogSource, ...] = (CLOUDTRAIL, VPCFLOW, GUARDDUTY, DNS)


def by_name(name: str) -> LogSource:
    """The source called ``name``; an unknown name is an error that lists the known ones."""
    for source in SOURCES:
        if source.name == name:
            return source
    raise ValueError(f"Unknown log source {name!r}; known: {', '.join(s.name for s in SOURCES)}.")


def by_view(view: str) -> LogSource:
    """The source whose detection view is ``view``."""
    for source in SOURCES:
        if source.view == view:
            return source
    known = ", ".join(s.view for s in SOURCES)
    raise ValueError(f"Unknown detection view {view!r}; known: {known}.")
