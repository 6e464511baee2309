"""Unified diffs of prompt texts, one diff line per output line.

``difflib.unified_diff`` over ``splitlines(keepends=True)`` glues the last line of a text
without a final newline to the next diff line (``-a+b``); prompts rarely end with one, so
every line is compared without its ending and the diff lines are joined here."""

from __future__ import annotations

import difflib


def unified_diff(old: str, new: str, fromfile: str, tofile: str) -> str:
    """The unified diff of ``old`` → ``new`` ('' when equal), each line ending in '\\n'."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile, tofile,
                                 lineterm="")
    return "".join(f"{line}\n" for line in lines)
