"""What an engine makes of one planned question, and the test case it becomes.

A generated case has the shape the scorer reads (``services/scorer/inputs.py``):
``input.question``, ``input.contexts`` (the source passages), ``expected_output`` (the
reference answer), and in ``metadata`` the provenance (generation, engine, kind, the
documents and chunks the passages came from) and ``reference_contexts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, field_validator

from harness.events.generation_events import generated_case_id

from .chunking import Chunk
from .plan import PlannedQuestion


class QuestionAnswer(BaseModel):
    """The JSON object a model must answer with."""

    question: str = Field(min_length=1, max_length=4000, description="the test question")
    answer: str = Field(min_length=1, max_length=20000,
                        description="the complete, correct reference answer")

    @field_validator("question", "answer", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise ValueError("must not be blank")
        return value


@dataclass
class Outcome:
    """One planned question: its question and answer, or why there is none."""

    item: PlannedQuestion
    contexts: list[Chunk]
    qa: QuestionAnswer | None = None
    error: str | None = None
    kind: str | None = None                        # when the engine made another kind
    extra: dict[str, Any] = field(default_factory=dict)  # engine details for metadata

    @property
    def documents(self) -> list[str]:
        return list(dict.fromkeys(c.document for c in self.contexts))


def case_from(generation_id: str, outcome: Outcome, *, engine: str, language: str
              ) -> dict[str, Any]:
    assert outcome.qa is not None
    passages = [c.text for c in outcome.contexts]
    metadata: dict[str, Any] = {
        "synthetic": True,
        "generation_id": generation_id,
        "engine": engine,
        "question_kind": outcome.kind or outcome.item.kind,
        "language": language,
        "sources": [c.source for c in outcome.contexts],
        "reference_contexts": passages,
    }
    if outcome.extra:
        metadata[engine.split()[0]] = outcome.extra
    return {
        "id": generated_case_id(generation_id, outcome.item.index),
        "input": {"question": outcome.qa.question, "contexts": passages},
        "expected_output": outcome.qa.answer,
        "metadata": metadata,
        "assert": [],
        "threshold": None,
    }


def error_from(outcome: Outcome) -> dict[str, Any]:
    return {"item": outcome.item.index, "kind": outcome.item.kind,
            "documents": outcome.documents, "message": outcome.error or "unknown error"}
