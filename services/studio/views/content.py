"""Prompt content as people edit it: a text template, or chat messages in a table."""

from __future__ import annotations

import json
import re
from typing import Any

from harness import content_parts

ROLES = ("system", "user", "assistant", "developer", "tool")
_VAR = re.compile(r"{{-?\s*([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")  # a call is no variable


def is_chat(content: Any) -> bool:
    return isinstance(content, list)


def _message_text(content: Any) -> str:
    return content_parts.readable(content) if isinstance(content, list) else str(content)


def as_text(content: Any) -> str:
    """Content for display: chat messages as ``role: text`` blocks (a list of parts as its
    text and one ``[image ...]`` line per image, audio or file)."""
    if isinstance(content, str):
        return content
    return "\n\n".join(f"[{m.get('role', '?')}]\n{_message_text(m.get('content', ''))}"
                       for m in content or [])


def message_rows(content: Any) -> list[dict[str, str]]:
    """Rows for the chat editor (a text template becomes one ``user`` message; a list of
    parts is its JSON, edited as such)."""
    if isinstance(content, list):
        return [{"role": str(m.get("role", "user")), "content": _cell(m.get("content", ""))}
                for m in content]
    return [{"role": "user", "content": content or ""}]


def _cell(content: Any) -> str:
    if isinstance(content, list):
        return json.dumps(content, ensure_ascii=False)
    return str(content)


def _parts_or_text(body: str) -> Any:
    """A cell holding a JSON list of parts (``[{"type": "text", ...}, ...]``) is that list;
    any other cell is text."""
    s = body.strip()
    if s.startswith("[") and s.endswith("]"):
        try:
            parsed = json.loads(s)
        except ValueError:
            return body
        if parsed and all(isinstance(p, dict) and "type" in p for p in parsed):
            return parsed
    return body


def content_from_editor(mode: str, text: str, rows: list[dict[str, Any]]) -> Any:
    """What the registry stores, from the editor's state; ``ValueError`` says what is wrong."""
    if mode == "text":
        if not (text or "").strip():
            raise ValueError("The prompt is empty: write the template first.")
        return text
    messages = []
    for i, row in enumerate(rows, start=1):
        role = (row.get("role") or "").strip()
        body = row.get("content") or ""
        if not role and not str(body).strip():
            continue  # an empty row left in the editor
        if role not in ROLES:
            raise ValueError(f"Message {i}: role must be one of {', '.join(ROLES)} "
                             f"(got {role or 'nothing'}).")
        if not str(body).strip():
            raise ValueError(f"Message {i} ({role}) has no text.")
        messages.append({"role": role, "content": _parts_or_text(str(body))})
    if not messages:
        raise ValueError("Add at least one message.")
    return messages


def variables_in(content: Any) -> list[str]:
    """The ``{{ var }}`` names a draft uses, in order of appearance (a preview only; the
    registry computes the stored list)."""
    names: list[str] = []
    for m in _VAR.finditer(as_text(content)):
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def parse_value(raw: str) -> Any:
    """A variable typed into a form: JSON lists/objects are parsed (templates may loop over
    them); anything else stays text."""
    s = raw.strip()
    if s[:1] in ("[", "{"):
        try:
            return json.loads(s)
        except ValueError:
            return raw
    return raw


def references_caption(references: list[dict[str, Any]]) -> str | None:
    """A version's ``{{ prompt("name@label") }}`` references in one line (None without)."""
    if not references:
        return None
    return "References: " + ", ".join(
        f"{r.get('name') or r.get('prompt_id')} @ "
        + (f"v{r['version']}" if r.get("version") is not None else str(r.get("environment")))
        for r in references) + " (expanded when resolved, rendered or run)"
