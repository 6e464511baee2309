"""Prompt diffs: a unified diff of two versions, its counts, and a one-line summary.

Made here from the two versions the page already holds (text, or chat messages shown as
``[role]`` blocks), one line per line, whether or not the content ends with a newline.
"""

from __future__ import annotations

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
