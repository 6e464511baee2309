"""Prompt diffs: a unified diff of two versions, its counts, and a one-line summary.

Made here from the two versions the page already holds (text, or chat messages shown as
``[role]`` blocks), one line per line, whether or not the content ends with a newline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from harness.textdiff import unified_diff

from .content import as_text


@dataclass(frozen=True)
class DiffStats:
    added: int
    removed: int

    @property
    def unchanged(self) -> bool:
        return self.added == 0 and self.removed == 0


def unified(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Unified diff from version ``old`` to version ``new`` (dicts of the versions API)."""
    return unified_diff(as_text(old["content"]), as_text(new["content"]),
                        f"v{old['version']}", f"v{new['version']}").rstrip("\n")


def config_text(config: dict[str, Any] | None) -> str:
    """A version's config as the studio shows and edits it (indented JSON, sorted keys;
    '' for none)."""
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) if config else ""


def config_from_editor(text: str) -> dict[str, Any]:
    """The config typed in the editor: a JSON object ('' = none); ``ValueError`` saying
    what is wrong otherwise (the registry checks its keys and values)."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Config is not JSON: {exc.msg} (line {exc.lineno}, column "
                         f"{exc.colno}).") from None
    if not isinstance(value, dict):
        raise ValueError("Config must be a JSON object, e.g. {\"model\": \"gpt-4o-mini\", "
                         "\"temperature\": 0}.")
    return value


def config_unified(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Unified diff of two versions' configs ('' when equal)."""
    return unified_diff(config_text(old.get("config")), config_text(new.get("config")),
                        f"v{old['version']} config", f"v{new['version']} config").rstrip("\n")


def diff_stats(diff: str) -> DiffStats:
    """Added and removed lines of a unified diff (file headers and hunks not counted)."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "@@")):
            continue
        if line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    return DiffStats(added, removed)


def describe_diff(old: dict[str, Any], new: dict[str, Any], diff: str) -> str:
    """``v1 → v3: +2 −1 lines; variables added: tone``."""
    stats = diff_stats(diff)
    text = f"v{old['version']} → v{new['version']}: "
    text += "identical content" if stats.unchanged else \
        f"+{stats.added} −{stats.removed} lines"
    before, after = set(old.get("variables") or []), set(new.get("variables") or [])
    if after - before:
        text += "; variables added: " + ", ".join(sorted(after - before))
    if before - after:
        text += "; variables removed: " + ", ".join(sorted(before - after))
    return text
