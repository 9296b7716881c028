"""The destination types: one module each, declaring ``SCHEMA`` (JSON Schema of its own settings),
``SECRETS`` (the ``*_env`` keys naming environment variables, and whether each is required),
``DEDUPLICATES`` (whether the receiver drops a re-send with the same delivery id) and
``deliver(destination, batch, context) -> list[Outcome]``."""

from __future__ import annotations

import importlib
from types import ModuleType

from jobs.runtime.config import ConfigError

TYPES = {
    "pagerduty": "jobs.delivery.destinations.pagerduty",
    "slack": "jobs.delivery.destinations.slack",
    "sns": "jobs.delivery.destinations.sns",
    "webhook": "jobs.delivery.destinations.webhook",
    "ocsf": "jobs.delivery.destinations.ocsf",
}


def type_names() -> list[str]:
    return list(TYPES)


def module_for(type_: str) -> ModuleType:
    """The module of destination type ``type_``; a ConfigError for an unknown type."""
    if type_ not in TYPES:
        raise ConfigError(f"unknown destination type {type_!r}: one of {', '.join(TYPES)}.")
    return importlib.import_module(TYPES[type_])
