"""What the scorer needs from the outside: the run to score, its results with the scores
already recorded (new scores go to a ``services.worker_results.ResultSink``)."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from harness.evaluation.models import CaseResult
from harness.llm.options import JUDGE_OPTIONS, allowed_options


class ScoringJob(BaseModel):
    """A run as the scorer needs it: its metrics, judge and embeddings, and its snapshot."""

    run_id: str
    status: str
    metrics: list[str] = Field(default_factory=list)
    judge_model: str | None = None
    judge_params: dict[str, Any] = Field(default_factory=dict)
    embedding_model: str | None = None
    snapshot_uri: str
    snapshot_sha256: str
    expected_results: int = 0
    trace_context: dict[str, str] | None = None  # the run's span (harness.tracing.context)

    @classmethod
    def from_run(cls, run: Any) -> ScoringJob:
        """From a ``runs`` row or the registry's ``GET /runs/{id}`` answer."""
        config = run["config"] or {}
        return cls(run_id=run["id"], status=run["status"], metrics=config.get("metrics") or [],
                   judge_model=config.get("judge_model"),
                   judge_params=allowed_options(config.get("judge_params") or {},
                                                JUDGE_OPTIONS),
                   embedding_model=config.get("embedding_model"),
                   snapshot_uri=run["snapshot_uri"], snapshot_sha256=run["snapshot_sha256"],
                   expected_results=run["expected_results"],
                   trace_context=config.get("trace_context"))


class ScoringSource(Protocol):
    async def job(self, run_id: str) -> ScoringJob | None:
        """The run, or None when the registry does not know it."""

    async def results(self, run_id: str, shard: int | None = None) -> list[CaseResult]:
        """Every result of the run (of its runner shard ``shard``, when given), each with
        the scores already recorded for it."""

    async def unscored_runs(self) -> list[str]:
        """Completed runs whose scores are not all in (to resume after a restart)."""


class OnlineEvaluator(BaseModel):
    """An active online evaluator as the scorer needs it (the registry's ``evaluators``)."""

    id: str
    name: str
    assertion: dict[str, Any] | None = None
    metric: str | None = None
    traffic: dict[str, str] = Field(default_factory=dict)
    sampling_rate: float = 1.0
    judge_model: str | None = None


class FedTrace(BaseModel):
    """A stored trace as online evaluation reads it (masked request and response)."""

    id: str
    position: tuple[str, str] | None = None  # (writing transaction, id): the feed's place
    source: str
    application: str | None = None
    prompt_id: str | None = None
    key_id: str | None = None
    key_name: str | None = None
    model_requested: str
    model_answered: str | None = None
    latency_ms: float | None = None
    cost_usd: float | None = None
    request: Any = None
    response: Any = None
    # the span the call happened in (the gateway request's): the evaluation nests under it
    trace_context: dict[str, str] | None = None


class TraceFeed(Protocol):
    """Stored traces in the order they were written, from a named checkpoint."""

    async def evaluators(self) -> list[OnlineEvaluator]:
        """The active evaluators."""

    async def next_traces(self, name: str, limit: int) -> list[FedTrace]:
        """Successful chat traces (not the scorer's own judge calls) written after the
        checkpoint ``name``, oldest first."""

    async def save_checkpoint(self, name: str, position: tuple[str, str]) -> None: ...

    async def scored(self, trace_ids: list[str]) -> set[tuple[str, str]]:
        """(evaluator id, trace id) of the evaluator scores already recorded."""


class SampledTraces(Protocol):
    """What the scorer service reads for a ``TraceSampled`` (the registry's REST API)."""

    async def evaluator(self, evaluator_id: str) -> OnlineEvaluator | None:
        """The evaluator while it is active; None when paused or unknown."""

    async def trace(self, trace_id: str) -> tuple[FedTrace, set[str]] | None:
        """The stored trace and the ids of the evaluators that scored it already; None
        when it is not stored (any more)."""
