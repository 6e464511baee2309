"""The run aggregate: an evaluation of targets on a pinned dataset snapshot.

A request, an import (a run executed elsewhere, recorded whole) and a cancellation are
decided here; what the runner and the scorer report (started, results, completed, failed,
scores) are facts the registry records as they come. The first of completed, failed or
cancelled ends the run.

The handler (``handlers/runs.py``) does the I/O: it looks up the dataset and what each
target names (a prompt version, an application), writes the snapshot and passes what it
found in the command; ``decide`` only applies the rules.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.evaluation import analysis, shards
from harness.evaluation.models import CaseResult, Target
from harness.events import StoredEvent, registry
from harness.events.base import DomainEvent
from harness.events.run_events import (
    CaseResultRecorded,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunRequested,
    RunScoringShardRequested,
    RunShardRequested,
    RunStarted,
    result_event_id,
    run_event_id,
)
from harness.llm import options

from .checks import check_assertions, check_llm_options
from .errors import AlreadyExists, DomainError, Invalid, NotFound

# ---- what the handler looked up ------------------------------------------------------


@dataclass(frozen=True)
class DatasetFacts:
    """The dataset a run is requested on, as it is when requested."""

    dataset_id: str
    name: str
    dataset_type: str = "evaluation"
    is_verified: bool = False
    case_count: int = 0
    default_assert: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TargetSource:
    """What a target names, looked up: a prompt version, through an application or not.

    ``model`` is the application's; ``config_model`` the version's config's. ``params``
    are the options the version runs with: the application's over the version's config
    over the defaults, or the version's config alone without an application."""

    prompt_id: str
    prompt_name: str
    version: int
    content: str | list[dict[str, Any]]  # references expanded
    application_id: str | None = None
    application_name: str | None = None
    model: str | None = None
    references: list[dict[str, Any]] = field(default_factory=list)  # what they resolved to
    params: dict[str, Any] = field(default_factory=dict)
    fallback_models: list[str] = field(default_factory=list)
    config_model: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """The dataset's cases pinned for the run (content-addressed)."""

    uri: str
    sha256: str
    case_count: int


# ---- commands -------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRun:
    run_id: str
    dataset: DatasetFacts
    snapshot: Snapshot
    targets: tuple[Target, ...]
    assert_: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    concurrency: int = 4
    repeat: int = 1
    case_threshold: float = 1.0
    min_pass_rate: float | None = None
    cache: bool | None = None
    judge_model: str | None = None
    description: str = ""
    source: str = "api"
    judge_params: dict[str, Any] = field(default_factory=dict)
    embedding_model: str | None = None
    shard_items: int = shards.DEFAULT_SHARD_ITEMS
    trace_context: dict[str, str] | None = None  # the run's span (harness.tracing.context)


@dataclass(frozen=True)
class ImportRun:
    """A run executed elsewhere (``harness eval --record``), recorded completed."""

    run_id: str
    dataset: DatasetFacts
    snapshot: Snapshot
    case_ids: frozenset[str]
    targets: tuple[Target, ...]
    results: tuple[CaseResult, ...]
    repeat: int = 1
    description: str = ""
    source: str = "api"


@dataclass(frozen=True)
class CancelRun:
    run_id: str
    reason: str = ""


Command = RequestRun | ImportRun | CancelRun


class RunFinished(DomainError):
    """Only a queued or running run can be cancelled."""


# ---- state ----------------------------------------------------------------------------

ACTIVE = ("queued", "running")
_ENDINGS = {RunCompleted: "completed", RunCancelled: "cancelled", RunFailed: "failed"}
LIFECYCLE = tuple(t.TYPE for t in (RunRequested, RunStarted, *_ENDINGS))
"""The events that start and end a run: folding only these tells whether it is still
active (a first result also marks a queued run running, which changes no decision)."""


@dataclass(frozen=True)
class RunState:
    run_id: str | None = None
    status: str | None = None  # queued, running, completed, cancelled or failed

    @property
    def exists(self) -> bool:
        return self.run_id is not None


def evolve(state: RunState, event: DomainEvent) -> RunState:
    if isinstance(event, RunRequested):
        return RunState(run_id=event.run_id, status="queued")
    if isinstance(event, RunStarted | CaseResultRecorded) and state.status == "queued":
        return replace(state, status="running")
    ending = _ENDINGS.get(type(event))
    if ending is not None and state.status in ACTIVE:
        return replace(state, status=ending)
    return state


# ---- rules ----------------------------------------------------------------------------


def check_dataset(dataset: DatasetFacts, min_pass_rate: float | None) -> None:
    if dataset.case_count == 0:
        raise Invalid("dataset_id: the dataset has no cases", field="dataset_id")
    if dataset.dataset_type == "golden" and not dataset.is_verified and min_pass_rate is not None:
        raise Invalid("min_pass_rate: a golden dataset must be verified by a person before it "
                      "can gate (POST /datasets/{id}/verify)", field="min_pass_rate")


def check_target_names(where: str, prompt_id: str | None, application_id: str | None) -> None:
    if bool(prompt_id) == bool(application_id):
        raise Invalid(f"{where}: give exactly one of prompt_id or application_id", field=where)


def targets_for(where: str, source: TargetSource, *, models: Sequence[str],
                model: str | None = None, params: dict[str, Any] | None = None,
                fallback_models: list[str] | None = None,
                label: str | None = None) -> list[Target]:
    """The targets one entry of a request makes: one per model (its own ``model``, else
    the application's, else each of the request's ``models``, else the model of the
    version's config). Its ``params`` and ``fallback_models`` override the application's
    and the version config's. Target ids are given by ``decide``."""
    params = params or {}
    check_llm_options(params, f"{where}.params")
    merged = {**source.params, **params}
    fallback = list(source.fallback_models) if fallback_models is None else fallback_models
    if m := model or source.model:
        chosen = [m]
    else:
        chosen = list(models) or ([source.config_model] if source.config_model else [])
    if not chosen:
        raise Invalid(f"{where}.model: no model (give model, use an application, set models, "
                      "or give the prompt version a config.model)", field=f"{where}.model")
    base = source.application_name or f"{source.prompt_name} v{source.version}"
    return [Target(target_id="", label=label or f"{base} · {m}", prompt_id=source.prompt_id,
                   prompt_name=source.prompt_name, prompt_version=source.version,
                   application_id=source.application_id,
                   application_name=source.application_name, content=source.content, model=m,
                   params=merged, fallback_models=fallback,
                   references=list(source.references))
            for m in chosen]


def check_request(command: RequestRun) -> None:
    """Everything ``decide`` refuses a request for, in the order the API reports it."""
    check_dataset(command.dataset, command.min_pass_rate)
    check_assertions(command.assert_, "assert")
    for i, t in enumerate(command.targets):
        check_llm_options(t.params, f"targets.{i}.params")
    check_llm_options(command.judge_params, "judge_params", options.JUDGE_OPTIONS)


def check_import(case_ids: frozenset[str], targets: Sequence[Target],
                 results: Sequence[CaseResult]) -> None:
    for i, t in enumerate(targets):
        check_llm_options(t.params, f"targets.{i}.params")
    target_ids = {t.target_id for t in targets}
    for i, r in enumerate(results):
        if r.case_id not in case_ids:
            raise Invalid(f"results.{i}.case_id: {r.case_id} is not a case of the dataset",
                          field=f"results.{i}.case_id")
        if r.target_id not in target_ids:
            raise Invalid(f"results.{i}.target_id: unknown target {r.target_id}",
                          field=f"results.{i}.target_id")


def decide(command: Command, state: RunState) -> list[DomainEvent]:
    if isinstance(command, CancelRun):
        return _cancel(command, state)
    if state.exists:
        raise AlreadyExists(f"run {command.run_id} already exists")
    if isinstance(command, RequestRun):
        return _sharded(_requested(command), command.shard_items)
    return _imported(command)


def _sharded(requested: RunRequested, shard_items: int) -> list[DomainEvent]:
    """The request, then one work item per shard (``harness.evaluation.shards``)."""
    plan = shards.plan(requested.case_count, len(requested.targets), requested.repeat,
                       shard_items)
    requested = requested.model_copy(update={"shards": len(plan)})
    request = requested.model_dump(mode="json")
    return [requested, *[
        RunShardRequested(run_id=requested.run_id, shard_id=shards.shard_id(requested.run_id,
                                                                              s.index),
                          shard=s.index, shards=len(plan), start=s.start, stop=s.stop,
                          request=request)
        for s in plan]]


def _requested(command: RequestRun) -> RunRequested:
    check_request(command)
    ds, snap = command.dataset, command.snapshot
    targets = [t.model_copy(update={"target_id": f"t{i}"}) for i, t in enumerate(command.targets)]
    return RunRequested(
        run_id=command.run_id, dataset_id=ds.dataset_id, dataset_name=ds.name,
        snapshot_uri=snap.uri, snapshot_sha256=snap.sha256, case_count=snap.case_count,
        targets=[t.model_dump() for t in targets],
        default_assert=[*ds.default_assert, *command.assert_],
        concurrency=command.concurrency, repeat=command.repeat,
        case_threshold=command.case_threshold, min_pass_rate=command.min_pass_rate,
        cache=command.cache, judge_model=command.judge_model,
        description=command.description, source=command.source, metrics=command.metrics,
        judge_params=command.judge_params, embedding_model=command.embedding_model,
        trace_context=command.trace_context)


def _imported(command: ImportRun) -> list[DomainEvent]:
    check_import(command.case_ids, command.targets, command.results)
    ds, snap, run_id = command.dataset, command.snapshot, command.run_id
    results = [r.model_copy(update={"run_id": run_id}) for r in command.results]
    summary = analysis.summarize(results, list(command.targets))
    return [
        RunRequested(run_id=run_id, dataset_id=ds.dataset_id, dataset_name=ds.name,
                     snapshot_uri=snap.uri, snapshot_sha256=snap.sha256,
                     case_count=snap.case_count, targets=[t.model_dump() for t in command.targets],
                     repeat=command.repeat, description=command.description,
                     source=command.source),
        *[CaseResultRecorded(run_id=run_id, result=r.model_dump(mode="json")) for r in results],
        RunCompleted(run_id=run_id, summary=summary.model_dump(mode="json")),
    ]


@dataclass(frozen=True)
class RunTally:
    """What the run's read model counts: its status and results recorded of expected."""

    run_id: str
    status: str
    recorded: int
    expected: int


def is_complete(tally: RunTally) -> bool:
    """A run is complete, whichever runners did the work, once every item is recorded
    while it is still active (a cancelled or failed run stays so)."""
    return tally.status in ACTIVE and tally.recorded >= tally.expected


def completion(tally: RunTally, results: Iterable[CaseResult], targets: Sequence[Target], *,
               case_threshold: float = 1.0, min_pass_rate: float | None = None
               ) -> RunCompleted | None:
    """``RunCompleted`` with the summary of the recorded results, when the run is complete
    (see :func:`is_complete`); its id is :func:`completion_id`, so it is recorded once."""
    if not is_complete(tally):
        return None
    summary = analysis.summarize(results, targets, case_threshold=case_threshold,
                                 min_pass_rate=min_pass_rate)
    return RunCompleted(run_id=tally.run_id, summary=summary.model_dump(mode="json"))


def completion_id(run_id: str) -> uuid.UUID:
    return run_event_id(run_id, "completed")


def scoring_shards(run_id: str, metrics: Sequence[str], recorded: dict[int | None, int]
                   ) -> list[tuple[RunScoringShardRequested, uuid.UUID]]:
    """The scoring work items of a completed run, with their ids: one per runner shard
    (``recorded``: results recorded per shard, None for results without one) when the run
    asked for metrics and every result came from one of several shards; none otherwise
    (the scorer then scores the whole run on ``RunCompleted``)."""
    if not metrics or None in recorded or len(recorded) < 2:
        return []
    return [(RunScoringShardRequested(run_id=run_id, shard=shard, shards=len(recorded),
                                      results=count),
             run_event_id(run_id, f"scoring-shard:{shard}"))
            for shard, count in sorted(recorded.items())]


def _cancel(command: CancelRun, state: RunState) -> list[DomainEvent]:
    if not state.exists:
        raise NotFound(f"run {command.run_id} not found")
    if state.status not in ACTIVE:
        raise RunFinished(f"run {command.run_id} is already {state.status}")
    return [RunCancelled(run_id=command.run_id, reason=command.reason)]


def fact_ids(events: Sequence[DomainEvent]) -> list[uuid.UUID | None]:
    """The deterministic ids a worker would give these events (a result's is its run, case,
    target and repeat; a completion's its run), so recording them twice is a no-op."""
    ids: list[uuid.UUID | None] = []
    for e in events:
        if isinstance(e, CaseResultRecorded):
            r = e.result
            ids.append(result_event_id(e.run_id, r["case_id"], r["target_id"], r["repeat"]))
        elif isinstance(e, RunCompleted):
            ids.append(completion_id(e.run_id))
        else:
            ids.append(None)
    return ids


def replay(events: Iterable[StoredEvent], state: RunState = RunState()) -> RunState:
    for ev in events:
        state = evolve(state, registry.decode(ev))
    return state
