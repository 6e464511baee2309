"""The Annotate page's pure helpers: what a queue item shows, and the widget a score
config asks for (no Streamlit here, so they are tested alone)."""

from __future__ import annotations

from typing import Any


def progress_caption(queue: dict[str, Any]) -> str:
    by = ", ".join(f"{who or 'someone'} {n}" for who, n in (queue.get("done_by") or {}).items())
    return (f"{queue.get('done_count', 0)} of {queue.get('item_count', 0)} done · "
            f"{queue.get('pending', 0)} pending" + (f" · done by {by}" if by else ""))


def widget_of(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The input for a score config: ``("number", {min_value, max_value, value})``,
    ``("choice", {options})`` for a boolean (``true``/``false``) or a categorical one (its
    labels)."""
    kind = config.get("data_type")
    if kind == "boolean":
        return "choice", {"options": ["true", "false"]}
    if kind == "categorical":
        return "choice", {"options": [c["label"] for c in config.get("categories") or []]}
    lo, hi = config.get("min_value"), config.get("max_value")
    start = lo if lo is not None else (0.0 if hi is None or hi >= 0 else hi)
    return "number", {"min_value": lo, "max_value": hi, "value": float(start)}


def score_value(config: dict[str, Any], raw: Any) -> Any:
    """What the widget gave, as the API takes it: a boolean, a label or a number."""
    if config.get("data_type") == "boolean":
        return raw == "true"
    if config.get("data_type") == "categorical":
        return raw
    return float(raw)


def result_lines(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """What a reviewer reads of a run result: the case, the answer and the verdict."""
    case = result.get("case") or {}
    return [("Input", case.get("input")), ("Expected", case.get("expected_output")),
            ("Output", result.get("output")),
            ("Verdict", f"{result.get('status')} · {result.get('reason') or ''}".strip(" ·"))]
