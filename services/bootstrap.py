"""The composition root: the one module that knows every service.

It wires the local stack (``harness up``: registry, runner, scorer, generator and the
gateway in one process, on the in-process bus) and each deployable that runs on its own
(``python -m services.<name>``). Every other module imports inward only: a service
imports the library (``harness``) and the plumbing directly under ``services/``
(``serve.py``, ``worker_service.py``), never another service; the ``harness`` CLI
(``services/cli.py``) reaches the services through here.

On GCP each service runs on its own and the same handlers are fed by Pub/Sub; locally the
outbox relay feeds the in-process bus, and the runner's results and the scorer's scores
go straight into the registry's ingestion.
"""

from __future__ import annotations

import asyncio
import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from harness.config import Settings, get_settings
from harness.events import DomainEvent, streams
from harness.events.generation_events import GenerationRequested
from harness.events.run_events import RunRequested, RunShardRequested

# Each deployable imports only the services it runs (an image need not hold every extra,
# and `harness keys list` need not load the runner): the wiring below imports lazily.
if TYPE_CHECKING:
    from fastapi import FastAPI

    from harness.artifacts import ArtifactStore
    from harness.llm import LLMClient
    from harness.tracing import TraceWriter
    from services.gateway.config import GatewaySettings
    from services.generator.worker import Generator
    from services.registry.runtime import Runtime
    from services.runner.worker import Runner
    from services.scorer.online import OnlineScorer
    from services.scorer.worker import RunScorer
    from services.worker_results import BatchingLocalSink

__all__ = [
    "LocalStack", "api_keys_guard", "default_workers", "exit_on_sigterm", "gateway_app",
    "gateway_service",
    "has_had_keys", "list_gateway_keys", "local_app", "prepare_database",
    "rebuild_read_models", "registry_app", "registry_service", "resolve_application",
    "revoke_gateway_keys", "start_studio", "stop_studio",
]

E = TypeVar("E", bound=DomainEvent)


@dataclass
class LocalStack:
    runtime: Runtime
    runner: Runner
    sink: BatchingLocalSink
    scorer: RunScorer
    scorer_sink: BatchingLocalSink
    traces: TraceWriter | None = None  # every LLM call of the runner, batched
    generator: Generator | None = None
    generator_sink: BatchingLocalSink | None = None
    online: OnlineScorer | None = None  # online evaluation of stored traces
    online_sink: BatchingLocalSink | None = None

    @classmethod
    async def start(cls, database_url: str, *, artifacts: ArtifactStore | None = None,
                    llm: LLMClient | None = None, pool_max: int = 10,
                    resume: bool = True, workers: int = 1) -> LocalStack:
        """``workers`` > 1: the shards of a run of several shards are executed by that many
        child processes (``services.runner.pool``), results recorded here."""
        from harness.llm import LLMClient
        from harness.metrics import LLMCallMetrics
        from harness.tracing import LLMCallTracer, trace_writer_from_settings
        from services.generator.local import LocalGenerationProgress
        from services.generator.worker import HANDLED_TYPES as GENERATOR_TYPES
        from services.generator.worker import Generator
        from services.registry.runtime import Runtime
        from services.runner.local import LocalRunProgress
        from services.runner.worker import HANDLED_TYPES, Runner
        from services.scorer.local import LocalScoringSource, LocalTraceFeed
        from services.scorer.online import OnlineScorer
        from services.scorer.worker import HANDLED_TYPES as SCORER_TYPES
        from services.scorer.worker import RunScorer
        from services.worker_results import BatchingLocalSink

        rt = await Runtime.start(database_url, artifacts=artifacts, pool_max=pool_max)
        rt.calls_providers = True  # the runner below calls providers with this environment
        sink = BatchingLocalSink(rt.commands)
        traces = trace_writer_from_settings(rt.pool, "harness-runner")
        llm_given = llm is not None
        llm = llm or LLMClient(deployments=get_settings().llm_deployments)
        llm.observers += [LLMCallTracer(traces), LLMCallMetrics()]
        pool = None
        if workers > 1:
            from services.runner.pool import ShardPool

            pool = ShardPool(workers, on_trace=traces.add)
        runner = Runner(llm=llm, artifacts=rt.artifacts, sink=sink,
                        progress=LocalRunProgress(rt.pool), pool=pool)
        rt.bus.subscribe("runner", runner.handle, types=HANDLED_TYPES)
        scorer_sink = BatchingLocalSink(rt.commands, actor="scorer")
        scorer = RunScorer(llm=runner.llm, artifacts=rt.artifacts, sink=scorer_sink,
                           source=LocalScoringSource(rt.pool))
        rt.bus.subscribe("scorer", scorer.handle, types=SCORER_TYPES)
        stack = cls(rt, runner, sink, scorer, scorer_sink)
        stack.traces = traces
        stack.generator_sink = BatchingLocalSink(rt.commands, actor="generator")
        stack.generator = Generator(llm=runner.llm, artifacts=rt.artifacts,
                                    sink=stack.generator_sink,
                                    progress=LocalGenerationProgress(rt.pool),
                                    default_model=get_settings().judge_model)
        rt.bus.subscribe("generator", stack.generator.handle, types=GENERATOR_TYPES)
        # online evaluation: its judge calls are traced as the scorer's, never fed back
        judge_llm = llm if llm_given else LLMClient(
            deployments=get_settings().llm_deployments,
            observers=[LLMCallTracer(traces, source="scorer"), LLMCallMetrics()])
        stack.online_sink = BatchingLocalSink(rt.commands, actor="scorer")
        stack.online = OnlineScorer(llm=judge_llm, feed=LocalTraceFeed(rt.pool),
                                    sink=stack.online_sink)
        rt.start_background()
        stack.online.start()
        if resume:
            await runner.resume_unfinished(stack.load_run_work)
            await scorer.resume_unfinished()
            await stack.generator.resume_unfinished(stack.load_generation_request)
        return stack

    async def _first(self, stream_id: str, event_type: type[E]) -> E | None:
        """The first ``event_type`` event of ``stream_id``, or None."""
        for ev in await self.runtime.store.read_stream(stream_id):
            if ev.type == event_type.TYPE:
                return event_type.model_validate(ev.data)
        return None

    async def load_run_request(self, run_id: str) -> RunRequested | None:
        return await self._first(streams.run(run_id), RunRequested)

    async def load_run_work(self, run_id: str) -> list[RunShardRequested]:
        """The run's shards (a run requested before sharding: itself, as one shard)."""
        from services.runner.worker import work_of

        events = await self.runtime.store.read_stream(
            streams.run(run_id), types=[RunRequested.TYPE, RunShardRequested.TYPE])
        return [w for ev in events if (w := work_of(ev)) is not None]

    async def load_generation_request(self, generation_id: str) -> GenerationRequested | None:
        return await self._first(streams.generation(generation_id), GenerationRequested)

    async def stop(self) -> None:
        if self.online is not None:
            await self.online.stop()
        tasks = [*self.runner.tasks.values(), *self.scorer.tasks.values(),
                 *(self.generator.tasks.values() if self.generator else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except BaseException:  # noqa: BLE001 - cancelled or failed: stopping anyway
                pass
        if self.runner.pool is not None:
            await asyncio.to_thread(self.runner.pool.close)
        await self.sink.close()
        await self.scorer_sink.close()
        if self.online_sink is not None:
            await self.online_sink.close()
        if self.generator_sink is not None:
            await self.generator_sink.close()
        if self.traces is not None:
            await self.traces.stop()
        await self.runtime.stop()


# ---------------------------------------------------------------- the local stack's apps


def registry_app(database_url: str, *, local_stack: bool = False, workers: int = 1
                 ) -> FastAPI:
    """The registry on ``database_url``; with ``local_stack`` the runner, scorer and
    generator run in this process too (``harness run``, ``harness demo``), the runner's
    shards in ``workers`` child processes when more than one."""
    from services.registry.app import create_app

    start = functools.partial(LocalStack.start, workers=workers) if local_stack else None
    return create_app(database_url, start_stack=start)


def local_app(database_url: str, gateway_settings: GatewaySettings | None = None, *,
              workers: int = 1) -> FastAPI:
    """What ``harness up`` serves: the registry with the local stack, and the gateway
    under ``/v1``."""
    from services.gateway.app import mount_gateway

    return mount_gateway(registry_app(database_url, local_stack=True, workers=workers),
                         gateway_settings, resolve=resolve_application)


def default_workers() -> int:
    """Runner processes of the local stack: ``HARNESS_RUNNER_WORKERS``, else one per core."""
    return get_settings().runner_workers or os.cpu_count() or 1


def gateway_app(runtime: Runtime, settings: GatewaySettings | None = None) -> FastAPI:
    """The registry app with the gateway mounted, on a runtime that is already running
    (tests, benchmarks): the gateway is built now; ``gateway.start()`` begins its
    background work (the lifespan does it when the server runs one)."""
    from services.gateway.app import mount_gateway
    from services.gateway.gateway import Gateway
    from services.registry.app import create_app

    app = mount_gateway(create_app(runtime=runtime), settings, resolve=resolve_application)
    app.state.gateway = Gateway(runtime, settings, resolve=resolve_application)
    return app


async def resolve_application(pool, application_id: str) -> tuple[bytes, str]:
    """The gateway's view of the registry's resolve query: its domain errors become
    problems here, so a gateway without the registry's routes answers them the same."""
    from harness.web.problems import ProblemError
    from services.registry.domain.errors import DomainError
    from services.registry.problem_types import problem_type
    from services.registry.read.queries.applications import resolve_json

    try:
        return await resolve_json(pool, application_id)
    except DomainError as exc:
        status, slug = problem_type(exc)
        raise ProblemError(status, slug, exc.detail, **exc.extra) from exc


# ---------------------------------------------------------------- deployables


def registry_service(settings: Settings | None = None) -> FastAPI:
    """``python -m services.registry``."""
    from services.registry.service import create_registry_service

    return create_registry_service(settings)


def gateway_service(settings: Settings | None = None,
                    gateway_settings: GatewaySettings | None = None) -> FastAPI:
    """``python -m services.gateway``: on the registry's database and runtime (without
    its relay or background work)."""
    from services.gateway.service import create_gateway_service
    from services.registry.runtime import Runtime

    s = settings or get_settings()

    async def start_runtime(url: str) -> Runtime:
        return await Runtime.start(url, relay=False, pool_min=s.pool_min_size,
                                   pool_max=s.pool_max_size)

    return create_gateway_service(s, gateway_settings, start_runtime=start_runtime,
                                  resolve=resolve_application)


# ---------------------------------------------------------------- the database


async def prepare_database(url: str) -> tuple[int, bool]:
    """Migrate every service's tables; return how many active API keys exist and whether
    any ever did."""
    from harness import apikeys
    from harness.db import create_pool
    from services.registry.runtime import migrate_all

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        await migrate_all(pool)
        return await apikeys.active_key_count(pool), await apikeys.keys_ever_created(pool)
    finally:
        await pool.close()


async def has_had_keys(url: str) -> bool:
    """Migrate; whether an API key was ever created (a server that had keys stays
    closed)."""
    from harness import apikeys
    from harness.db import create_pool
    from services.registry.runtime import migrate_all

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        await migrate_all(pool)
        return await apikeys.keys_ever_created(pool)
    finally:
        await pool.close()


def api_keys_guard(s: Settings, insecure: bool) -> str | None:
    """The registry's and the gateway's guard (``services/serve.py``)."""
    from services import serve

    return serve.api_keys_guard(has_had_keys)(s, insecure)


async def rebuild_read_models(url: str) -> tuple[int, int]:
    """Drop the registry's read models and replay every event into them; returns the
    number of events replayed and of read models."""
    from harness.db import create_pool
    from harness.eventstore import EventStore
    from services.registry.read import projections

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        n = await projections.rebuild(EventStore(pool))
    finally:
        await pool.close()
    return n, len(projections.read_model_tables())


# ---------------------------------------------------------------- the studio


def start_studio(host: str, studio_port: int, registry_port: int):
    """The studio as a child process pointed at the registry on ``registry_port``; returns
    the process and the studio's URL. Raises RuntimeError when it cannot start (extra not
    installed, port taken)."""
    from services.studio import launch as studio_launch

    proc = studio_launch.start(host, studio_port, studio_launch.local_url(host, registry_port))
    return proc, studio_launch.local_url(host, studio_port)


def stop_studio(proc) -> None:
    from services.studio import launch as studio_launch

    studio_launch.stop(proc)


def exit_on_sigterm() -> None:
    """So a SIGTERM runs the caller's ``finally`` (which stops the studio)."""
    from services.studio import launch as studio_launch

    studio_launch.exit_on_sigterm()


# ---------------------------------------------------------------- gateway keys (CLI)


async def list_gateway_keys(pool) -> list[dict]:
    from services.gateway.keys import list_keys

    return await list_keys(pool)


async def revoke_gateway_keys(pool, ident: str) -> list[dict]:
    from services.gateway.keys import revoke_matching

    return await revoke_matching(pool, ident)
