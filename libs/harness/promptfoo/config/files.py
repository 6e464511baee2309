"""Finding a promptfoo config and reading the YAML / JSON files it names (errors name the
file and the line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from harness.yaml12 import load_yaml

from ..errors import ConfigError

__all__ = ["CONFIG_NAMES", "find_config", "read_structured"]

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")


def read_structured(path: Path, *, shown: str | None = None) -> Any:
    """Parse a YAML or JSON file; errors name the file and the line."""
    shown = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read file: {exc}", file=shown) from exc
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc.msg}", file=shown,
                              location=f"line {exc.lineno}, column {exc.colno}") from exc
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=shown, location=where) from exc


def find_config(path: Path) -> Path:
    """The config file itself, or the promptfoo config inside a directory."""
    path = Path(path)
    if path.is_dir():
        for name in CONFIG_NAMES:
            if (path / name).is_file():
                return path / name
        raise ConfigError(f"no {' / '.join(CONFIG_NAMES)} in this directory", file=path)
    return path
