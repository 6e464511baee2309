"""What a metric sees of one result: the case's question, contexts and reference from
the run's snapshot, and the output the target gave. Pure, no I/O.

Where each field comes from (the first that has a value):

- ``question``: the case's ``question`` (or ``user_input``, ``query``), else the last user
  message of the rendered prompt (what the model was asked);
- ``answer``: the result's output;
- ``contexts``: the case's ``contexts`` (or ``retrieved_contexts``, ``context``);
- ``reference``: the case's ``expected_output``, else its ``reference`` (or
  ``ground_truth``);
- ``reference_contexts``: the case's ``reference_contexts``.

"The case's X" is looked up on the snapshot case itself, then in its ``input`` variables,
then in its ``metadata``.
"""

from __future__ import annotations

from typing import Any

from harness import content_parts
from harness.evaluation.models import CaseResult
from harness.scoring import ScoringInput

QUESTION_KEYS = ("question", "user_input", "query")
CONTEXT_KEYS = ("contexts", "retrieved_contexts", "context")
REFERENCE_KEYS = ("reference", "ground_truth")
REFERENCE_CONTEXT_KEYS = ("reference_contexts",)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def case_value(case: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The first non-blank value of ``keys`` on the case, its input, then its metadata."""
    for source in (case, case.get("input") or {}, case.get("metadata") or {}):
        if not isinstance(source, dict):
            continue
        for key in keys:
            value = source.get(key)
            if not _blank(value):
                return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def _passages(value: Any) -> list[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, str) else str(item) for item in items]


def last_user_message(rendered: str | list[dict[str, Any]] | None) -> str | None:
    """The rendered prompt itself (text), or the content of its last user message."""
    if isinstance(rendered, str):
        return rendered
    for message in reversed(rendered or []):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return message["content"]
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            return content_parts.text_of(message["content"])  # its text parts
    return None


def scoring_input(case: dict[str, Any], result: CaseResult) -> ScoringInput:
    """The metric input of ``result`` on ``case`` (a snapshot line)."""
    question = case_value(case, QUESTION_KEYS)
    reference = case.get("expected_output")
    if _blank(reference):
        reference = case_value(case, REFERENCE_KEYS)
    return ScoringInput(
        question=_text(question) if question is not None
        else last_user_message(result.rendered_prompt),
        answer=result.output,
        contexts=_passages(case_value(case, CONTEXT_KEYS)),
        reference=_text(reference),
        reference_contexts=_passages(case_value(case, REFERENCE_CONTEXT_KEYS)),
    )
