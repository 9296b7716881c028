"""The detection catalog: ``detections/<source>/<name>.sql`` + ``<name>.yml``, and their switches
and parameters from ``conf/detections.yml``.

Adding a detection is adding two files; nothing here names a detection.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from jobs.runtime.config import CONF_DIR, PROJECT_ROOT
from jobs.runtime.times import DurationError, parse_duration
from jobs.sources import SOURCES
from schemas.alerts import SEVERITIES

DETECTIONS_DIR = PROJECT_ROOT / "detections"
DETECTIONS_CONF = CONF_DIR / "detections.yml"
# A detection lives under its source's folder and reads the sources' views.
SOURCE_NAMES = tuple(s.name for s in SOURCES)
SILVER_VIEWS = tuple(s.view for s in SOURCES)
ENTITY_TYPES = (
    "account", "instance", "eni", "security_group", "key_pair", "ip", "domain", "user", "role",
    "access_key", "bucket", "trail", "detector", "image", "finding", "region",
)
REQUIRED_KEYS = (
    "id", "name", "title", "description", "severity", "mitre_attack", "source_tables",
    "dedupe_keys", "entities", "false_positives", "runbook", "references", "tests",
)
ID_PATTERN = re.compile(rf"^TW-({'|'.join(s.id_prefix for s in SOURCES)})-\d{{3}}$")
TECHNIQUE_PATTERN = re.compile(r"^T\d{4}(\.\d{3})?$")
TACTIC_PATTERN = re.compile(r"^TA\d{4}$")
TITLE_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class DetectionError(ValueError):
    """A malformed detection or detection setting, reported as one sentence."""


@dataclass(frozen=True)
class Entity:
    """Alert entities of ``type`` taken from output column ``column`` (a string or an array)."""

    type: str
    column: str


@dataclass(frozen=True)
class Detection:
    """One detection: its metadata, its SQL and its test cases."""

    id: str
    name: str
    source: str
    title: str
    description: str
    severity: str
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    source_tables: tuple[str, ...]
    lookback: timedelta
    dedupe_keys: tuple[str, ...]
    entities: tuple[Entity, ...]
    false_positives: tuple[str, ...]
    runbook: str
    references: tuple[str, ...]
    tests: tuple[dict[str, Any], ...]
    sql: str
    path: Path
    meta: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def title_fields(self) -> list[str]:
        """Output columns the title template names, in order."""
        return TITLE_FIELD.findall(self.title)

    def fingerprint(self, params: dict[str, Any]) -> str:
        """A hash of the SQL, the alert-shaping metadata and the bound parameters."""
        body = json.dumps(
            [self.sql, self.title, self.severity, self.dedupe_keys,
             [e.__dict__ for e in self.entities], self.techniques, params],
            sort_keys=True, default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def _fail(path: Path, message: str) -> DetectionError:
    return DetectionError(
        f"{path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path}: "
        f"{message}"
    )


def _mitre(path: Path, entries: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(entries, list) or not entries:
        raise _fail(path, "mitre_attack must be a non-empty list of {technique, tactic}.")
    techniques, tactics = [], []
    for entry in entries:
        technique = str((entry or {}).get("technique", ""))
        tactic = str((entry or {}).get("tactic", ""))
        if not TECHNIQUE_PATTERN.match(technique):
            raise _fail(
                path, f"MITRE technique {technique!r} is not of the form T1234 or T1234.567."
            )
        if not TACTIC_PATTERN.match(tactic):
            raise _fail(path, f"MITRE tactic {tactic!r} is not of the form TA0001.")
        if technique not in techniques:
            techniques.append(technique)
        if tactic not in tactics:
            tactics.append(tactic)
    return tuple(techniques), tuple(tactics)


def _entities(path: Path, entries: Any) -> tuple[Entity, ...]:
    if not isinstance(entries, list):
        raise _fail(path, "entities must be a list of {type, column}.")
    out = []
    for entry in entries:
        etype, column = str((entry or {}).get("type", "")), str((entry or {}).get("column", ""))
        if etype not in ENTITY_TYPES:
            raise _fail(path, f"entity type {etype!r} is not one of {', '.join(ENTITY_TYPES)}.")
        if not column:
            raise _fail(path, f"entity {etype!r} names no column.")
        out.append(Entity(etype, column))
    return tuple(out)


def load_detection(yml: Path) -> Detection:
    """Read ``<name>.yml`` and its same-stem ``<name>.sql``; raise DetectionError when malformed."""
    try:
        meta = yaml.safe_load(yml.read_text()) or {}
    except yaml.YAMLError as exc:
        raise _fail(yml, f"not valid YAML ({str(exc).splitlines()[0]}).") from None
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise _fail(yml, f"missing keys {', '.join(missing)}.")
    sql_path = yml.with_suffix(".sql")
    if not sql_path.is_file():
        raise _fail(yml, f"no SQL file {sql_path.name} beside it.")
    source = yml.parent.name
    if source not in SOURCE_NAMES:
        raise _fail(yml, f"lives under {source!r}, not one of {', '.join(SOURCE_NAMES)}.")
    if not ID_PATTERN.match(str(meta["id"])):
        raise _fail(yml, f"id {meta['id']!r} is not of the form TW-CT-001 "
                         f"(prefixes: {', '.join(s.id_prefix for s in SOURCES)}).")
    if meta["severity"] not in SEVERITIES:
        raise _fail(yml, f"severity {meta['severity']!r} is not one of {', '.join(SEVERITIES)}.")
    tables = tuple(meta["source_tables"] or ())
    if not tables or any(t not in SILVER_VIEWS for t in tables):
        raise _fail(yml, f"source_tables must list some of {', '.join(SILVER_VIEWS)}.")
    techniques, tactics = _mitre(yml, meta["mitre_attack"])
    try:
        lookback = parse_duration(meta.get("lookback", "0 minutes"))
    except DurationError as exc:
        raise _fail(yml, f"lookback: {exc}") from None
    if not isinstance(meta["tests"], list):
        raise _fail(yml, "tests must be a list of cases.")
    return Detection(
        id=str(meta["id"]),
        name=str(meta["name"]),
        source=source,
        title=str(meta["title"]),
        description=str(meta["description"]).strip(),
        severity=str(meta["severity"]),
        techniques=techniques,
        tactics=tactics,
        source_tables=tables,
        lookback=lookback,
        dedupe_keys=tuple(meta["dedupe_keys"] or ()),
        entities=_entities(yml, meta["entities"]),
        false_positives=tuple(str(f) for f in meta["false_positives"] or ()),
        runbook=str(meta["runbook"]).strip(),
        references=tuple(str(r) for r in meta["references"] or ()),
        tests=tuple(meta["tests"]),
        sql=sql_path.read_text(),
        path=yml,
        meta=meta,
    )


def load_catalog(root: Path = DETECTIONS_DIR) -> list[Detection]:
    """Every detection under ``root``, sorted by id; ids and names must be unique."""
    detections = [load_detection(p) for p in sorted(root.glob("*/*.yml"))]
    seen: dict[str, Path] = {}
    for d in detections:
        for key in (d.id, d.name):
            if key in seen:
                raise _fail(d.path, f"{key!r} is already used by {seen[key].name}.")
            seen[key] = d.path
    return sorted(detections, key=lambda d: d.id)


def load_settings(path: Path = DETECTIONS_CONF) -> dict[str, Any]:
    """``conf/detections.yml``: ``params`` shared by all detections and per-detection
    ``detections.<name>.enabled`` / ``.params``."""
    if not path.is_file():
        return {"params": {}, "detections": {}}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DetectionError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    return {"params": data.get("params") or {}, "detections": data.get("detections") or {}}


def settings_path(conf: dict[str, Any]) -> Path:
    """The detection settings file: ``detect.settings`` (relative to the project) or the default."""
    configured = conf.get("detect", {}).get("settings")
    if not configured:
        return DETECTIONS_CONF
    path = Path(configured)
    return path if path.is_absolute() else PROJECT_ROOT / path


def is_enabled(detection: Detection, settings: dict[str, Any]) -> bool:
    """A detection runs unless ``detections.<name>.enabled`` is false."""
    return bool((settings["detections"].get(detection.name) or {}).get("enabled", True))


def detection_params(
    detection: Detection, settings: dict[str, Any], conf: dict[str, Any]
) -> dict[str, Any]:
    """Values bound to the SQL besides the window: shared params, the detection's own, and the
    ``detect`` section's ``baseline_days``, ``baseline_warmup`` (as hours) and ``window``
    (as seconds)."""
    detect = conf.get("detect", {})
    params: dict[str, Any] = {
        "baseline_days": int(detect.get("baseline_days", 30)),
        "warmup_hours": int(
            parse_duration(detect.get("baseline_warmup", "1 day")).total_seconds() // 3600
        ),
        "window_seconds": int(parse_duration(detect.get("window", "1 hour")).total_seconds()),
    }
    params.update(settings["params"])
    params.update((settings["detections"].get(detection.name) or {}).get("params") or {})
    for key, value in params.items():
        if isinstance(value, list) and not value:
            raise DetectionError(
                f"parameter {key!r} of {detection.name} is an empty list; give at least one value."
            )
    return params
