"""Stored traces as test cases (pure: no I/O).

A trace of an ``app/<name>`` gateway call becomes a case whose ``input`` is the variables
the gateway rendered the application's prompt with; any other trace (a plain model call,
a runner's call) becomes a case whose ``input`` is ``{"messages": [...]}``, the messages
sent. The answer becomes ``expected_output`` when asked. Every text is masked again
(:func:`harness.pii.mask`) whatever the trace's key policy was: a case holds only the
masked form. The case's id is derived from the dataset and the trace, so one trace is one
case of a dataset (a second attempt names the duplicates), and its provenance is kept
under ``metadata.from_trace``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from .errors import Invalid

_TRACE_CASE_NS = uuid.UUID("5f0d2b8e-61c4-4a7e-9b3d-2e8a7c1f4d90")

MAX_TRACES = 1000
"""The most traces one request turns into cases (ids given, or a filter's newest)."""


def case_id_of(dataset_id: str, trace_id: str | uuid.UUID) -> str:
    """The id of the case ``trace_id`` becomes in ``dataset_id``."""
    return str(uuid.uuid5(_TRACE_CASE_NS, f"{dataset_id}:{trace_id}"))


def _masked(value: Any) -> Any:
    from harness import pii

    if isinstance(value, str):
        return pii.mask(value).text
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def answer_of(response: Any) -> str | None:
    """The answer's text in a stored response: ``{"content": ...}`` (gateway, runner) or
    an OpenAI body (``choices[0].message.content``)."""
    if not isinstance(response, Mapping):
        return None
    content = response.get("content")
    if isinstance(content, str):
        return content
    try:
        content = response["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    return content if isinstance(content, str) else None


def input_of(trace: Mapping[str, Any]) -> dict[str, Any] | None:
    """The case input of a trace: the rendered variables of an application call, else the
    messages; ``None`` when the trace stored neither (bodies not stored, an embedding)."""
    request = trace.get("request")
    if not isinstance(request, Mapping):
        return None
    variables = request.get("variables")
    if trace.get("application") and isinstance(variables, Mapping):
        return dict(variables)
    messages = request.get("messages")
    if isinstance(messages, list) and messages:
        return {"messages": messages}
    return None


def _provenance(trace: Mapping[str, Any]) -> dict[str, Any]:
    at = trace.get("created_at")
    return {"trace_id": str(trace["id"]), "source": trace.get("source"),
            "application": trace.get("application"), "prompt_id": trace.get("prompt_id"),
            "prompt_version": trace.get("prompt_version"),
            "model": trace.get("model_answered") or trace.get("model_requested"),
            "recorded_at": at.isoformat() if isinstance(at, datetime) else at}


def cases_from_traces(dataset_id: str, traces: Iterable[Mapping[str, Any]], *,
                      answer_as_expected: bool = False) -> list[dict[str, Any]]:
    """One case per trace, in the order given. Traces that cannot become a case (no
    stored request; no answer when the answer is to be the expected output) are refused
    together, by id (``Invalid`` on ``trace_ids``)."""
    cases: list[dict[str, Any]] = []
    no_input: list[str] = []
    no_answer: list[str] = []
    for t in traces:
        inp = input_of(t)
        answer = answer_of(t.get("response"))
        if inp is None:
            no_input.append(str(t["id"]))
            continue
        if answer_as_expected and (answer is None or (t.get("status") or 0) >= 400):
            no_answer.append(str(t["id"]))
            continue
        cases.append({
            "id": case_id_of(dataset_id, t["id"]),
            "input": _masked(inp),
            "expected_output": _masked(answer) if answer_as_expected else None,
            "metadata": {"from_trace": _provenance(t)},
            "assert": [], "threshold": None})
    problems = []
    if no_input:
        problems.append("stored without a request to take variables or messages from: "
                        + ", ".join(no_input))
    if no_answer:
        problems.append("without an answer to expect (answer_as_expected): "
                        + ", ".join(no_answer))
    if problems:
        raise Invalid("trace_ids: traces " + "; traces ".join(problems), field="trace_ids",
                      trace_ids=no_input + no_answer)
    return cases


def trace_id_of(case: Mapping[str, Any]) -> str:
    return case["metadata"]["from_trace"]["trace_id"]
