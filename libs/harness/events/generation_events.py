"""Events of synthetic test data generation (stream ``generation-<id>``).

The registry records ``GenerationRequested``; the generator reports the rest as facts
with deterministic ids (see :func:`generation_event_id`), so a redelivered request that
is worked again records nothing twice. The registry turns each ``CasesGenerated`` into a
``CasesAdded`` (source ``generation:<id>``) on the target dataset's stream. A person may
stop a generation (``GenerationCancelled``, recorded by the registry); the generator then
stops, and what it reports afterwards changes nothing of the generation's status.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from .base import DomainEvent, registry

_NS = uuid.UUID("5d7f6a0e-8c1b-4e59-9b0a-2f4c6e8d1a37")

GenerationEngine = Literal["direct", "ragas"]


def generation_event_id(generation_id: str, what: str) -> uuid.UUID:
    """``what``: "started", "completed", "failed" or "batch:<n>"."""
    return uuid.uuid5(_NS, f"generation:{generation_id}:{what}")


def generated_case_id(generation_id: str, item: int) -> str:
    """The id of the case made for planned question ``item`` (the same on every attempt)."""
    return str(uuid.uuid5(_NS, f"case:{generation_id}:{item}"))


@registry.register
class GenerationRequested(DomainEvent):
    """Documents are in the artifact store; the generator reads them from there."""

    TYPE = "GenerationRequested"
    generation_id: str
    dataset_id: str
    documents: list[dict[str, Any]]  # {name, kind, uri, sha256, bytes, text_column, passages}
    num_questions: int
    question_kinds: dict[str, float]  # kind -> weight: simple, reasoning, multi_context
    language: str = "English"
    model: str | None = None          # None: the generator's HARNESS_JUDGE_MODEL
    params: dict[str, Any] = {}       # LLM options only (harness.llm.options)
    engine: GenerationEngine = "direct"
    chunk_size: int = 1500            # characters per passage the questions are asked about
    trace_context: dict[str, str] | None = None  # the generation's span (harness.tracing.context)


@registry.register
class GenerationStarted(DomainEvent):
    TYPE = "GenerationStarted"
    generation_id: str
    worker: str = ""
    engine: str = ""                  # e.g. "direct" or "ragas 0.4.3"
    planned: int = 0                  # questions planned (= num_questions)
    documents: list[dict[str, Any]] = []  # {name, passages, error}


@registry.register
class CasesGenerated(DomainEvent):
    """One batch of planned questions: the cases made, and the questions that failed."""

    TYPE = "CasesGenerated"
    generation_id: str
    dataset_id: str
    batch: int
    cases: list[dict[str, Any]]       # {id, input: {question, contexts}, expected_output, metadata}
    errors: list[dict[str, Any]] = []  # {item, kind, documents, message}
    usage: dict[str, Any] = {}        # {calls, prompt_tokens, completion_tokens, cost_usd}


@registry.register
class GenerationCompleted(DomainEvent):
    TYPE = "GenerationCompleted"
    generation_id: str
    generated: int = 0                # cases made over all attempts
    failed: int = 0                   # planned questions that could not be made


@registry.register
class GenerationFailed(DomainEvent):
    """Nothing could be generated; ``error`` names the documents and what was wrong."""

    TYPE = "GenerationFailed"
    generation_id: str
    error: str
    documents: list[dict[str, Any]] = []  # {name, error}


@registry.register
class GenerationCancelled(DomainEvent):
    """A person stopped the generation; the cases generated before stay in the dataset."""

    TYPE = "GenerationCancelled"
    generation_id: str
    reason: str = ""
