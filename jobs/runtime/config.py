"""Configuration: YAML defaults, an environment overlay, then ``--set key=value`` overrides."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# spark-submit.sh sets TRAILWARDEN_HOME: under spark-submit this module is imported from the
# --py-files zip, whose parent holds no conf/, schemas/ or detections/.
PROJECT_ROOT = Path(os.environ.get("TRAILWARDEN_HOME") or Path(__file__).resolve().parents[2])
CONF_DIR = PROJECT_ROOT / "conf"
SCHEMA_PATH = PROJECT_ROOT / "schemas" / "config.yml"


class ConfigError(ValueError):
    """A configuration problem, reported to the user as one sentence."""


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level.")
    return data


def _apply_set(conf: dict[str, Any], assignment: str) -> None:
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set expects key=value, got {assignment!r}.")
    value = yaml.safe_load(raw) if raw else ""
    node = conf
    parts = key.split(".")
    # Spark property names contain dots: everything after spark.properties is one key.
    if parts[:2] == ["spark", "properties"] and len(parts) > 2:
        parts = parts[:2] + [".".join(parts[2:])]
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {part} is not a section.")
    node[parts[-1]] = value


def resolve_uri(uri: str) -> str:
    """Return ``uri`` unchanged when it has a scheme, else as an absolute local path."""
    if "://" in uri:
        return uri
    path = Path(uri).expanduser()
    return str(path if path.is_absolute() else (PROJECT_ROOT / path).resolve())


def load_config(
    env: str | None = None,
    overrides: list[str] | None = None,
    conf_dir: Path = CONF_DIR,
) -> dict[str, Any]:
    """Load defaults, the ``env`` overlay (or ``TRAILWARDEN_ENV``) and ``key=value`` overrides."""
    conf = _read_yaml(conf_dir / "defaults.yml")
    env = env or os.environ.get("TRAILWARDEN_ENV")
    if env:
        overlay = conf_dir / "env" / f"{env}.yml"
        if not overlay.is_file():
            raise ConfigError(f"Unknown environment {env!r}: {overlay} does not exist.")
        conf = _merge(conf, _read_yaml(overlay))
    for assignment in overrides or []:
        _apply_set(conf, assignment)
    validate(conf)
    conf["landing"] = resolve_uri(str(conf["landing"]))
    conf["lakehouse"] = resolve_uri(str(conf["lakehouse"]))
    return conf


def validate(conf: dict[str, Any], schema_path: Path = SCHEMA_PATH) -> None:
    """Raise ``ConfigError`` (one sentence) unless ``conf`` fits ``schemas/config.yml``.

    jsonschema checks the declared contract: an unknown key or a value of the wrong type, from
    a YAML file or ``--set``, fails before any work starts.
    """
    schema = _read_yaml(schema_path)
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(conf)
    )
    if error is None:
        return
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        keys = ", ".join(f"{where + '.' if where else ''}{k}" for k in unknown)
        hint = f"; known keys here: {', '.join(known)}" if known else ""
        raise ConfigError(f"Unknown configuration key {keys}{hint}.")
    raise ConfigError(f"Configuration value {where or '(top level)'} is invalid: {error.message}.")
