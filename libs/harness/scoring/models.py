"""Shapes of the scoring core: what a case gives, what a metric needs, what it returns."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

ScoreStatus = Literal["ok", "not_applicable", "error"]

# The fields of a ScoringInput a metric can need, with the words a reason uses for them.
FIELD_LABELS: dict[str, str] = {
    "question": "question (user_input)",
    "answer": "answer (response)",
    "contexts": "contexts (retrieved passages)",
    "reference": "reference (expected answer)",
    "reference_contexts": "reference_contexts (passages that should be retrieved)",
}


class ScoringInput(BaseModel):
    """One case to score. Ragas's own field names are accepted as aliases
    (``user_input``, ``response``, ``retrieved_contexts``)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    question: str | None = Field(
        default=None, validation_alias=AliasChoices("question", "user_input"),
        description="the user's input (Ragas: user_input)",
    )
    answer: str | None = Field(
        default=None, validation_alias=AliasChoices("answer", "response"),
        description="the system's output being scored (Ragas: response)",
    )
    contexts: list[str] | None = Field(
        default=None, validation_alias=AliasChoices("contexts", "retrieved_contexts"),
        description="passages the system retrieved, in rank order (Ragas: retrieved_contexts)",
    )
    reference: str | None = Field(
        default=None, description="the expected answer (ground truth)",
    )
    reference_contexts: list[str] | None = Field(
        default=None, description="passages that should have been retrieved",
    )

    @field_validator("contexts", "reference_contexts", mode="before")
    @classmethod
    def _one_passage_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def present(self, field: str) -> bool:
        """Whether ``field`` has something to score: not None, not blank, and for lists
        at least one non-blank passage."""
        value = getattr(self, field)
        if value is None:
            return False
        if isinstance(value, str):
            return bool(value.strip())
        return any(isinstance(v, str) and v.strip() for v in value)

    def passages(self, field: str) -> list[str]:
        """The non-blank passages of a list field, in order."""
        return [v for v in (getattr(self, field) or []) if isinstance(v, str) and v.strip()]


class MetricSpec(BaseModel):
    """A metric in the registry: what it needs and which Ragas metric computes it."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    requires: tuple[str, ...] = Field(description="ScoringInput fields that must be present")
    uses_judge: bool = False
    uses_embeddings: bool = False
    ragas_metric: str = Field(description="the Ragas class that computes it")
    aliases: tuple[str, ...] = ()
    blank_answer_ok: bool = Field(
        default=False,
        description="an empty (but given) answer is scored rather than not applicable",
    )

    @property
    def kind(self) -> Literal["llm", "embedding", "non_llm"]:
        if self.uses_judge:
            return "llm"
        return "embedding" if self.uses_embeddings else "non_llm"


class MetricScore(BaseModel):
    """One metric's result for one case. ``value`` is None unless ``status`` is "ok".

    Accounting: ``judge_calls`` counts judge completions the metric asked for (cache hits
    and JSON repair requests included), ``cached_calls`` how many of those the response
    cache answered. Tokens and cost are those of the calls actually made (a cache hit
    costs nothing); ``cost_usd`` is None when some call's price is unknown.
    """

    metric: str
    value: float | None = None
    status: ScoreStatus
    reason: str | None = None
    judge_calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens: int = 0
    cost_usd: float | None = 0.0
    embedding_calls: int = Field(default=0, description="embedding requests actually made")
    duration_ms: float = 0.0
    engine: str | None = Field(default=None, description='e.g. "ragas 0.4.3"')
    details: dict[str, Any] | None = Field(
        default=None, description="what the judge said (statements, verdicts, questions)"
    )
