"""A test case as one short line of text, for lists where people pick or scan cases."""

from __future__ import annotations

from typing import Any

PREVIEW_CHARS = 200


def case_preview(inputs: dict[str, Any] | None, limit: int = PREVIEW_CHARS) -> str | None:
    """``question: How do I roll back? · product: harness`` — the case's variables, the
    longest text first (usually the question), whitespace collapsed, cut at ``limit``
    characters with an ellipsis. ``None`` when the case is unknown (deleted since)."""
    if inputs is None:
        return None
    if not isinstance(inputs, dict):
        return _cut(str(inputs), limit)
    parts = sorted(inputs.items(), key=lambda kv: -len(_text(kv[1])))
    return _cut(" · ".join(f"{k}: {_text(v)}" for k, v in parts), limit)


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
