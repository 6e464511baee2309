"""Prompt diffs: counts and a one-line description of the registry's unified diff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DiffStats:
    added: int
    removed: int

    @property
    def unchanged(self) -> bool:
        return self.added == 0 and self.removed == 0


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


def describe_diff(d: dict[str, Any]) -> str:
    """``v1 → v3: +2 −1 lines; variables added: tone``."""
    stats = diff_stats(d.get("diff") or "")
    head = f"v{d['from_version']} → v{d['to_version']}: "
    if stats.unchanged:
        text = head + "identical content"
    else:
        text = head + f"+{stats.added} −{stats.removed} lines"
    if d.get("variables_added"):
        text += "; variables added: " + ", ".join(d["variables_added"])
    if d.get("variables_removed"):
        text += "; variables removed: " + ", ".join(d["variables_removed"])
    return text
