"""The generation aggregate: a request for synthetic cases from documents.

The request and its cancellation are decided here; what the generator reports (started,
batches of cases, completed or failed) are facts the registry records as they come. The
first of completed, failed or cancelled ends the generation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.events import StoredEvent, registry
from harness.events.base import DomainEvent
from harness.events.generation_events import (
    GenerationCancelled,
    GenerationCompleted,
    GenerationFailed,
    GenerationRequested,
)
from harness.generation.chunking import MAX_CHUNK_SIZE, MIN_CHUNK_SIZE
from harness.generation.plan import MAX_QUESTIONS, QUESTION_KINDS

from .errors import AlreadyExists, DomainError, Invalid, NotFound

ENGINES = ("direct", "ragas")
MAX_DOCUMENTS = 50


@dataclass(frozen=True)
class RequestGeneration:
    generation_id: str
    dataset_id: str
    documents: list[dict[str, Any]]
    num_questions: int
    question_kinds: dict[str, float]
    language: str = "English"
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    engine: str = "direct"
    chunk_size: int = 1500
    trace_context: dict[str, str] | None = None  # the generation's span


@dataclass(frozen=True)
class CancelGeneration:
    generation_id: str
    reason: str = ""


Command = RequestGeneration | CancelGeneration

_ENDINGS = {GenerationCompleted: "completed", GenerationFailed: "failed",
            GenerationCancelled: "cancelled"}


class GenerationFinished(DomainError):
    """Only a queued or running generation can be cancelled."""


class UnsupportedDocument(DomainError):
    """A document of a kind the generator cannot read (``document`` names it)."""


class DocumentRejected(DomainError):
    """Documents that cannot be used; ``errors`` has each with its field and reason."""


def rejected(problems: list[dict[str, Any]]) -> DocumentRejected:
    """One refusal naming the first bad document, with every one in ``errors``."""
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return DocumentRejected(f"{first['document']}: {first['message']}{more}",
                            document=first["document"], field=first["field"], errors=problems)


def check_document_names(names: list[str]) -> None:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise Invalid(f"files: two documents are named {duplicates[0]!r}; names identify "
                      "documents in errors and case sources", field="files")


@dataclass(frozen=True)
class GenerationState:
    generation_id: str | None = None
    ended: str | None = None  # completed, failed or cancelled

    @property
    def exists(self) -> bool:
        return self.generation_id is not None


def evolve(state: GenerationState, event: DomainEvent) -> GenerationState:
    if isinstance(event, GenerationRequested):
        return GenerationState(generation_id=event.generation_id)
    ending = _ENDINGS.get(type(event))
    if ending is not None and state.ended is None:
        return GenerationState(generation_id=state.generation_id, ended=ending)
    return state


def check_options(command: RequestGeneration) -> None:
    """Everything but the documents' content; raises Invalid naming the field."""
    if not command.documents:
        raise Invalid("files: at least one document is needed", field="files")
    if len(command.documents) > MAX_DOCUMENTS:
        raise Invalid(f"files: at most {MAX_DOCUMENTS} documents per generation", field="files")
    if not 1 <= command.num_questions <= MAX_QUESTIONS:
        raise Invalid(f"num_questions: must be between 1 and {MAX_QUESTIONS}",
                      field="num_questions")
    unknown = sorted(set(command.question_kinds) - set(QUESTION_KINDS))
    if unknown or not command.question_kinds:
        raise Invalid(f"question_kinds: use {', '.join(QUESTION_KINDS)}", field="question_kinds")
    if any(w <= 0 for w in command.question_kinds.values()):
        raise Invalid("question_kinds: weights must be above zero", field="question_kinds")
    if command.engine not in ENGINES:
        raise Invalid(f"engine: must be one of {', '.join(ENGINES)}", field="engine")
    if not command.language.strip() or len(command.language) > 40:
        raise Invalid("language: a language name of at most 40 characters", field="language")
    if not MIN_CHUNK_SIZE <= command.chunk_size <= MAX_CHUNK_SIZE:
        raise Invalid(f"chunk_size: must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}",
                      field="chunk_size")


def decide(command: Command, state: GenerationState) -> list[DomainEvent]:
    if isinstance(command, CancelGeneration):
        return _cancel(command, state)
    if state.exists:
        raise AlreadyExists(f"generation {command.generation_id} already exists")
    check_options(command)
    return [GenerationRequested(
        generation_id=command.generation_id, dataset_id=command.dataset_id,
        documents=command.documents, num_questions=command.num_questions,
        question_kinds=command.question_kinds, language=command.language.strip(),
        model=command.model, params=command.params, engine=command.engine,  # type: ignore[arg-type]
        chunk_size=command.chunk_size, trace_context=command.trace_context)]


def _cancel(command: CancelGeneration, state: GenerationState) -> list[DomainEvent]:
    if not state.exists:
        raise NotFound(f"generation {command.generation_id} not found")
    if state.ended is not None:
        raise GenerationFinished(f"generation {command.generation_id} is already {state.ended}; "
                              "only a queued or running generation can be cancelled",
                              generation_status=state.ended)
    return [GenerationCancelled(generation_id=command.generation_id,
                                reason=command.reason.strip())]


def replay(events: Iterable[StoredEvent],
           state: GenerationState = GenerationState()) -> GenerationState:
    for ev in events:
        state = evolve(state, registry.decode(ev))
    return state
