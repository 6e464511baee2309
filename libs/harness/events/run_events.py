"""Events of evaluation runs. Result events carry deterministic ids (see ``ids``)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from .base import DomainEvent, registry

_NS = uuid.UUID("0b9a4c1e-52a5-4f39-a7c4-1b8d2e6f3a10")


def result_event_id(run_id: str, case_id: str, target_id: str, repeat: int) -> uuid.UUID:
    return uuid.uuid5(_NS, f"result:{run_id}:{case_id}:{target_id}:{repeat}")


def run_event_id(run_id: str, what: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"run:{run_id}:{what}")


def score_event_id(run_id: str, case_id: str, target_id: str, repeat: int,
                   metric: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"score:{run_id}:{case_id}:{target_id}:{repeat}:{metric}")


@registry.register
class RunRequested(DomainEvent):
    TYPE = "RunRequested"
    run_id: str
    dataset_id: str
    dataset_name: str
    snapshot_uri: str
    snapshot_sha256: str
    case_count: int
    targets: list[dict[str, Any]]          # harness.evaluation.models.Target dumps
    default_assert: list[dict[str, Any]] = []
    concurrency: int = 4
    repeat: int = 1
    case_threshold: float = 1.0            # a case passes when its pass rate ≥ this
    min_pass_rate: float | None = None     # the run passes when case pass rate ≥ this
    cache: bool | None = None
    judge_model: str | None = None
    description: str = ""
    source: str = "api"                    # "api", "cli", "promptfoo"
    metrics: list[str] = []                # Ragas metrics the scorer computes after the run
    judge_params: dict[str, Any] = {}      # LLM options of the judge (harness.llm.options)
    embedding_model: str | None = None     # None = the offline local embedding model
    shards: int = 0                        # RunShardRequested events that follow; 0 = none
    #                                        (a run requested before sharding: one runner
    #                                        executes the whole run on this event)
    trace_context: dict[str, str] | None = None  # the run's span: {trace_id, span_id,
    #                                        parent_span_id?} (harness.tracing.context);
    #                                        None: recorded before runs were one trace


@registry.register
class RunShardRequested(DomainEvent):
    """One work item of a run: items ``start``..``stop`` (``harness.evaluation.shards``),
    one bus message each, so any runner instance takes any shard and a shard whose runner
    died is redelivered alone. ``request`` is the run's ``RunRequested`` data, so a runner
    needs nothing but the message (and the snapshot it points to)."""

    TYPE = "RunShardRequested"
    run_id: str
    shard_id: str
    shard: int
    shards: int
    start: int
    stop: int
    request: dict[str, Any]


@registry.register
class RunStarted(DomainEvent):
    TYPE = "RunStarted"
    run_id: str
    worker: str = ""


@registry.register
class CaseResultRecorded(DomainEvent):
    TYPE = "CaseResultRecorded"
    run_id: str
    result: dict[str, Any]                 # harness.evaluation.models.CaseResult dump
    shard: int | None = None               # the RunShardRequested it answers, if any

    def unstorable(self, reason: str) -> CaseResultRecorded:
        """The stand-in recorded when this result cannot be stored: the same case, target
        and repeat as an ``error`` result saying why (one bad output fails its own result,
        never the run)."""
        keep = ("run_id", "case_id", "target_id", "repeat", "model")
        result = {k: self.result[k] for k in keep if k in self.result}
        result.update(status="error", score=None, output=None,
                      reason="the result could not be stored",
                      error=f"the result could not be stored: {reason}")
        return CaseResultRecorded(run_id=self.run_id, result=result, shard=self.shard)


@registry.register
class RunCompleted(DomainEvent):
    TYPE = "RunCompleted"
    run_id: str
    summary: dict[str, Any]
    # RunScoringShardRequested events recorded with it (they score the run); 0: the scorer
    # scores the run on this event
    scoring_shards: int = 0


@registry.register
class RunScoringShardRequested(DomainEvent):
    """One scoring work item of a completed run that asked for metrics and ran in several
    shards: the results of runner shard ``shard`` (``results`` of them), one bus message
    each, recorded with ``RunCompleted``, so any scorer instance takes any shard and a
    large run's judge calls are shared out like its model calls were. A run in one shard
    is scored on ``RunCompleted``."""

    TYPE = "RunScoringShardRequested"
    run_id: str
    shard: int
    shards: int
    results: int


@registry.register
class RunCancelled(DomainEvent):
    TYPE = "RunCancelled"
    run_id: str
    reason: str = ""


@registry.register
class RunFailed(DomainEvent):
    TYPE = "RunFailed"
    run_id: str
    error: str


@registry.register
class ScoresRecorded(DomainEvent):
    """One metric's score of one result (case × target × repeat), from the scorer. A
    case lacking what the metric needs is ``not_applicable`` with the reason, never 0."""

    TYPE = "ScoresRecorded"
    run_id: str
    case_id: str
    target_id: str
    repeat: int = 0
    metric: str
    status: Literal["ok", "not_applicable", "error"]
    value: float | None = None             # 0..1 when status is "ok"
    reason: str | None = None
    judge_model: str | None = None
    judge_calls: int = 0                   # cache hits and JSON repair requests included
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0           # None = some call's price is unknown
    embedding_calls: int = 0
    duration_ms: float = 0.0
    engine: str | None = None              # "ragas 0.4.3"
    details: dict[str, Any] | None = None  # what the judge said (statements, verdicts, ...)
