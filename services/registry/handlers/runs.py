"""Runs: request one (targets resolved and pinned, the dataset snapshotted), import one
executed elsewhere, cancel one.

The dataset and what each target names are looked up here, in the order the API reports
what is wrong; ``domain.runs`` decides. A request's ``RunRequested`` is appended under the
new run's lock; an import's events are recorded as facts (deterministic ids: a result that
cannot be stored becomes that result's error, as a worker's would); a cancellation is
decided on the run's lifecycle events, under the run's lock, which a worker's facts also
take, so a run never ends twice.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import asyncpg

from harness import prompt_config
from harness.config import get_settings
from harness.datasets.snapshots import write_snapshot
from harness.evaluation.models import CaseResult, Target
from harness.events import EventMetadata, StoredEvent, streams
from harness.llm import options
from harness.tracing import context as tracing_context

from ..commands import EventSourced, pure
from ..domain import runs as domain
from ..domain.checks import check_assertions, check_llm_options
from ..domain.composition import Node
from ..domain.errors import Invalid, NotFound
from ..read.queries import composition
from ..schemas import RunCreate, RunImport, TargetSpec
from ..scores import canonical_metrics
from ..snapshots import dataset_snapshot
from .credentials import refuse_unconfigured

if TYPE_CHECKING:
    from ..runtime import Runtime

RUN = EventSourced(domain.RunState(), domain.replay, types=domain.LIFECYCLE)


async def _dataset(conn: asyncpg.Connection | asyncpg.Pool, dataset_id: str
                   ) -> tuple[domain.DatasetFacts, list[str]]:
    """The dataset's facts a run needs, and its default metrics."""
    row = await conn.fetchrow(
        "SELECT id, name, dataset_type, is_verified, case_count, default_assert, "
        "default_metrics FROM datasets WHERE id = $1", dataset_id)
    if row is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return domain.DatasetFacts(
        dataset_id=row["id"], name=row["name"], dataset_type=row["dataset_type"],
        is_verified=row["is_verified"], case_count=row["case_count"],
        default_assert=list(row["default_assert"])), list(row["default_metrics"])


async def _source(conn: asyncpg.Connection, spec: TargetSpec, where: str
                  ) -> domain.TargetSource:
    """The prompt version (and application) a target names."""
    app = None
    prompt_id = spec.prompt_id
    if spec.application_id:
        app = await conn.fetchrow("SELECT * FROM applications WHERE id = $1", spec.application_id)
        if app is None:
            raise Invalid(f"{where}.application_id: application {spec.application_id} not found",
                          field=f"{where}.application_id")
        prompt_id = app["prompt_id"]
    prompt = await conn.fetchrow("SELECT * FROM prompts WHERE id = $1", prompt_id)
    if prompt is None:
        raise Invalid(f"{where}.prompt_id: prompt {prompt_id} not found",
                      field=f"{where}.prompt_id")
    number = spec.version or prompt["active_version"]
    version = await conn.fetchrow(
        "SELECT version, content, config, refs FROM prompt_versions "
        "WHERE prompt_id = $1 AND version = $2", prompt_id, number)
    if version is None:
        raise Invalid(f"{where}.version: prompt has no version {number}", field=f"{where}.version")
    config = dict(version["config"])
    # references resolve now and are pinned with the content (the run renders what the
    # referenced environments pointed at when it was requested)
    composed = await composition.compose(
        Node.of(prompt_id, prompt["name"], number, version["content"], version["refs"]),
        composition.read_model_lookup(conn))
    source = domain.TargetSource(
        prompt_id=prompt_id, prompt_name=prompt["name"], version=number,
        content=composed.content, config_model=prompt_config.model_of(config),
        params=prompt_config.params_of(config),
        references=[r.model_dump() for r in composition.references_out(composed)])
    if app is None:
        return source
    # the application's options over its version's config over the defaults, as it runs
    _, params = prompt_config.in_effect(
        config, model=app["model_id"],
        params={"temperature": app["temperature"], "max_tokens": app["max_tokens"],
                "top_p": app["top_p"]})
    return domain.TargetSource(**{**source.__dict__, "application_id": app["id"],
                                  "application_name": app["name"], "model": app["model_id"],
                                  "params": params,
                                  "fallback_models": list(app["fallback_models"])})


async def _targets(rt: Runtime, conn: asyncpg.Connection, body: RunCreate) -> list[Target]:
    targets: list[Target] = []
    for i, spec in enumerate(body.targets):
        where = f"targets.{i}"
        domain.check_target_names(where, spec.prompt_id, spec.application_id)
        made = domain.targets_for(where, await _source(conn, spec, where), models=body.models,
                                  model=spec.model, params=spec.params,
                                  fallback_models=spec.fallback_models, label=spec.label)
        if rt.calls_providers:
            for t in made:
                refuse_unconfigured(t, where)
        targets.extend(made)
    return targets


async def request_run(rt: Runtime, body: RunCreate, metadata: EventMetadata, *,
                      source: str = "api", trace_context: dict[str, str] | None = None
                      ) -> str:
    """Pins prompt contents, params and a dataset snapshot and appends ``RunRequested``;
    the runner does the work. Returns the run's id.

    ``trace_context``: the run's span in the trace of the request that asked for it
    (:func:`harness.tracing.context.allocate`); a new trace when not given."""
    dataset, default_metrics = await _dataset(rt.pool, body.dataset_id)
    domain.check_dataset(dataset, body.min_pass_rate)
    check_assertions(body.assert_, "assert")
    async with rt.pool.acquire() as conn:
        targets = await _targets(rt, conn, body)
        data, count = await dataset_snapshot(conn, body.dataset_id)
    metrics = canonical_metrics(
        body.metrics if body.metrics is not None else default_metrics, "metrics")
    check_llm_options(body.judge_params, "judge_params", options.JUDGE_OPTIONS)
    uri, sha = await write_snapshot(rt.artifacts, data)
    command = domain.RequestRun(
        run_id=str(uuid.uuid4()), dataset=dataset,
        snapshot=domain.Snapshot(uri=uri, sha256=sha, case_count=count),
        targets=tuple(targets), assert_=body.assert_, metrics=metrics,
        concurrency=body.concurrency, repeat=body.repeat, case_threshold=body.case_threshold,
        min_pass_rate=body.min_pass_rate, cache=body.cache, judge_model=body.judge_model,
        description=body.description, source=source, judge_params=body.judge_params,
        embedding_model=body.embedding_model, shard_items=get_settings().run_shard_items,
        trace_context=trace_context or tracing_context.allocate())
    await rt.commands.execute(streams.run(command.run_id), RUN,
                              pure(lambda state: domain.decide(command, state)), metadata)
    return command.run_id


async def import_run(rt: Runtime, body: RunImport, metadata: EventMetadata) -> str:
    """Records a run executed elsewhere (``harness eval --record``), completed with its
    summary; the dataset is snapshotted as for any run. Returns the run's id."""
    dataset, _ = await _dataset(rt.pool, body.dataset_id)
    try:
        targets = tuple(Target.model_validate(t) for t in body.targets)
        results = tuple(CaseResult.model_validate(r) for r in body.results)
    except ValueError as exc:
        raise Invalid(f"targets/results: {exc}", field="results") from exc
    async with rt.pool.acquire() as conn:
        data, count = await dataset_snapshot(conn, body.dataset_id)
        case_ids = frozenset(r["id"] for r in await conn.fetch(
            "SELECT id FROM test_cases WHERE dataset_id = $1", body.dataset_id))
    domain.check_import(case_ids, targets, results)
    uri, sha = await write_snapshot(rt.artifacts, data)
    command = domain.ImportRun(
        run_id=str(uuid.uuid4()), dataset=dataset,
        snapshot=domain.Snapshot(uri=uri, sha256=sha, case_count=count), case_ids=case_ids,
        targets=targets, results=results, repeat=body.repeat, description=body.description,
        source=body.source)
    events = domain.decide(command, domain.RunState())  # a new run id: nothing to load
    await rt.commands.record_facts(streams.run(command.run_id), events,
                                   domain.fact_ids(events), metadata)
    return command.run_id


async def cancel_run(rt: Runtime, run_id: str, reason: str, metadata: EventMetadata,
                     ) -> list[StoredEvent]:
    command = domain.CancelRun(run_id, reason)
    _, stored = await rt.commands.execute(streams.run(run_id), RUN,
                                          pure(lambda state: domain.decide(command, state)),
                                          metadata)
    return stored
