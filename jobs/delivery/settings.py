"""The ``destinations`` section: validated against each type's JSON Schema, secrets read from the
environment variables it names, all before anything is sent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from jobs.delivery.destinations import module_for, type_names
from jobs.delivery.model import SEVERITY_RANK
from jobs.runtime.config import ConfigError

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Keys every destination takes, whatever its type (docs/alerting.md, "Routing").
COMMON_PROPERTIES: dict[str, Any] = {
    "type": {"type": "string"},
    "on": {"enum": ["incidents", "alerts"]},
    "min_severity": {"enum": list(SEVERITY_RANK)},
    "detections": {"type": "array", "items": {"type": "string"}},
    "accounts": {"type": "array", "items": {"type": ["string", "integer"]}},
    "report_base_url": {"type": "string"},
    "retries": {"type": "integer", "minimum": 0, "maximum": 10},
    "retry_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 900},
    "backoff_seconds": {"type": "number", "minimum": 0, "maximum": 60},
    "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
    "reject_limit": {"type": "integer", "minimum": 1, "maximum": 100},
}


@dataclass(frozen=True)
class Route:
    """Which changes a destination gets."""

    on: str = "incidents"
    min_severity: str = "info"
    detections: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """True when the alert or incident ``doc`` passes severity, detection and account."""
        if SEVERITY_RANK.get(doc.get("severity") or "", -1) < SEVERITY_RANK[self.min_severity]:
            return False
        names = set(doc.get("detection_names") or [doc.get("detection_name")])
        if self.detections and not names & self.detections:
            return False
        accounts = set(doc.get("accounts") or []) | {doc.get("account_id")}
        return not self.accounts or bool(accounts & self.accounts)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per message after the first, the total time one message may take, the first
    backoff (doubled each retry; ``Retry-After`` wins when longer), the HTTP timeout, and the
    runs in which the receiver may reject one message (400, 413, 422) before it is abandoned."""

    retries: int = 4
    retry_seconds: float = 60.0
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0
    reject_limit: int = 5


@dataclass(frozen=True)
class Destination:
    """One configured destination, validated, with its secrets resolved (never printed)."""

    name: str
    type: str
    settings: Mapping[str, Any]
    route: Route
    policy: RetryPolicy
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def source(self) -> str:
        return "gold/alerts" if self.route.on == "alerts" else "gold/incidents"


def schema_for(type_: str) -> dict[str, Any]:
    """The JSON Schema of one destination's settings: the common keys plus its type's own."""
    own = module_for(type_).SCHEMA
    extra = {k: v for k, v in own.items() if k not in ("properties", "required")}
    return {
        "type": "object",
        "properties": {**COMMON_PROPERTIES, **own.get("properties", {})},
        "required": ["type", *own.get("required", [])],
        "additionalProperties": False,
        **extra,
    }


def _first_error(name: str, settings: Any, schema: dict[str, Any]) -> str | None:
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(settings)
    )
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path)
    return f"destinations.{name}{'.' + where if where else ''}: {error.message}"


def parse_destination(name: str, settings: Any, environ: Mapping[str, str]) -> Destination:
    """One destination from its conf entry; a ConfigError names the first problem."""
    if not NAME.fullmatch(str(name)):
        raise ConfigError(f"destination name {name!r} must be letters, digits, '_' or '-'.")
    if not isinstance(settings, dict):
        raise ConfigError(f"destinations.{name} must be a mapping with at least a type.")
    type_ = settings.get("type")
    if type_ not in type_names():
        raise ConfigError(
            f"destinations.{name}.type {type_!r} is not one of {', '.join(type_names())}."
        )
    problem = _first_error(name, settings, schema_for(type_))
    if problem:
        raise ConfigError(problem + ".")
    secrets = {}
    for key, required in module_for(type_).SECRETS.items():
        variable = settings.get(key)
        if variable is None:
            if required:
                raise ConfigError(f"destinations.{name}.{key} must name an environment variable.")
            continue
        if not environ.get(variable):
            raise ConfigError(
                f"destinations.{name}.{key} names the environment variable {variable}, "
                "which is not set."
            )
        secrets[key.removesuffix("_env")] = environ[variable]
    route = Route(
        on=settings.get("on", "incidents"),
        min_severity=settings.get("min_severity", "info"),
        detections=frozenset(settings.get("detections") or []),
        accounts=frozenset(str(a) for a in settings.get("accounts") or []),
    )
    policy = RetryPolicy(
        **{k: settings[k] for k in RetryPolicy.__dataclass_fields__ if k in settings}
    )
    return Destination(str(name), type_, dict(settings), route, policy, secrets)


def parse_destinations(
    conf: Mapping[str, Any], environ: Mapping[str, str]
) -> list[Destination]:
    """Every destination in ``conf["destinations"]`` (empty when none), validated."""
    section = conf.get("destinations") or {}
    if not isinstance(section, dict):
        raise ConfigError("destinations must be a mapping of name -> settings.")
    return [parse_destination(name, value, environ) for name, value in section.items()]
