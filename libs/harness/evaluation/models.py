"""Shapes shared by the runner, the registry and the analysis of evaluation runs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["pass", "fail", "error"]
ScoreStatus = Literal["ok", "not_applicable", "error"]


class Target(BaseModel):
    """One column of a run matrix: a prompt version (or an application) on a model."""

    target_id: str                       # stable within the run: "t0", "t1", ...
    label: str                           # human readable: "support-reply v2 · openai/gpt-4o-mini"
    prompt_id: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    application_id: str | None = None
    application_name: str | None = None  # as named when the run was requested (traces)
    content: str | list[dict[str, Any]]  # the pinned prompt content (text or chat messages)
    # the versions the prompt's {{ prompt("name@label") }} references resolved to when the
    # run was requested (``content`` has them expanded): ref, prompt_id, prompt_name, id,
    # version, environment, referenced_by, depth
    references: list[dict[str, Any]] = Field(default_factory=list)
    model: str
    params: dict[str, Any] = Field(default_factory=dict)  # temperature, max_tokens, top_p, ...
    fallback_models: list[str] = Field(default_factory=list)


class TestCaseSnapshot(BaseModel):
    """A case as pinned in a run's snapshot."""

    id: str
    input: dict[str, Any] = Field(default_factory=dict)
    expected_output: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    assert_: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    threshold: float | None = None

    model_config = {"populate_by_name": True}


class MetricResult(BaseModel):
    """A scorer metric's score of one result, as recorded by ``ScoresRecorded``."""

    model_config = {"extra": "allow"}  # usage (tokens, cost, judge calls) and details

    status: ScoreStatus
    value: float | None = None            # 0..1 when status is "ok"
    reason: str | None = None


class CaseResult(BaseModel):
    """One case × target × repeat, as recorded by ``CaseResultRecorded``."""

    run_id: str
    case_id: str
    target_id: str
    repeat: int = 0
    status: Status
    score: float | None = None
    reason: str = ""
    output: str | None = None
    rendered_prompt: str | list[dict[str, Any]] | None = None
    assertions: list[dict[str, Any]] = Field(default_factory=list)  # AssertionResult dumps
    named_scores: dict[str, float] = Field(default_factory=dict)
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None         # None = unknown price (never silently 0)
    model: str | None = None              # the model that answered (after fallback)
    cached: bool = False
    error: str | None = None
    scores: dict[str, MetricResult] = Field(default_factory=dict)  # by metric, from the scorer
    # the case's OpenTelemetry span ({trace_id, span_id}) when the runner exported one:
    # the scorer's spans for this result nest under it
    trace_context: dict[str, str] | None = None
