"""A prompt's history (events) as a readable timeline."""

from __future__ import annotations

import re
from typing import Any


def _words(event_type: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", event_type).lower()


def split_text(variants: list[dict[str, Any]]) -> str:
    """``v3 90% · v4 10%``: a split's variants with their shares of the traffic."""
    total = sum(float(v.get("weight") or 0) for v in variants) or 1.0
    return " · ".join(f"v{v.get('version')} {float(v.get('weight') or 0) / total:.0%}"
                      for v in variants)


def describe_event(e: dict[str, Any]) -> str:
    t, d = e.get("type", ""), e.get("data") or {}
    v = e.get("version")
    if t == "PromptCreated":
        return f"created the prompt {d.get('name', '')!r}".strip()
    if t == "PromptVersionCreated":
        base = d.get("derived_from")
        return f"saved v{v}" + (f" (edited from v{base})" if base else "")
    if t == "PromptVersionActivated":
        prev = e.get("previous_version")
        if prev and v is not None and v < prev:
            return f"rolled back to v{v} (from v{prev})"
        return f"activated v{v}" + (f" (was v{prev})" if prev else "")
    if t == "PromptUpdated":
        return "renamed / described the prompt"
    if t == "PromptEnvironmentMoved":
        return f"pointed {d.get('environment')} at v{v}"
    if t == "PromptEnvironmentCleared":
        return f"cleared {d.get('environment')}"
    if t == "PromptEnvironmentSplit":
        return f"split {d.get('environment')}: {split_text(d.get('variants') or [])}"
    if t == "PromptEnvironmentSplitEnded":
        return f"ended the split of {d.get('environment')}"
    if t == "PromptReferenceMoved":  # its versions are the referenced prompt's (in data)
        where = f"v{d['version']}" if d.get("version") is not None else "nothing"
        return (f"referenced prompt {d.get('referenced_name') or d.get('referenced_prompt_id')!r}"
                f" moved {d.get('environment')} to {where}")
    if t.startswith("Promotion"):
        what = _words(t[len("Promotion"):]) or "changed"
        env = d.get("environment")
        return f"promotion of v{v} {what}" + (f" ({env})" if env else "") if v else \
            f"promotion {what}"
    if t == "PromptPolicySet":
        return "changed the promotion policy"
    return _words(t)


def timeline_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first: when, who, what happened, and the note or reason given."""
    rows = [{"when": e.get("at"), "who": e.get("actor") or "—", "what": describe_event(e),
             "note": e.get("note") or ""} for e in entries]
    rows.reverse()
    return rows
