"""The local composition root: registry + runner + scorer + generator in one process on
the in-process bus.

On GCP each service runs on its own and the same handlers are fed by Pub/Sub; here the
outbox relay feeds the in-process bus, and the runner's results and the scorer's scores
go straight into the registry's ingestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from harness.artifacts import ArtifactStore
from harness.config import get_settings
from harness.events import DomainEvent
from harness.events.generation_events import GenerationRequested
from harness.events.run_events import RunRequested
from harness.llm import LLMClient
from harness.tracing import LLMCallTracer, TraceWriter, trace_writer_from_settings
from services.generator.local import LocalGenerationProgress
from services.generator.worker import HANDLED_TYPES as GENERATOR_TYPES
from services.generator.worker import Generator
from services.registry.runtime import Runtime
from services.runner.local import LocalRunProgress
from services.runner.worker import HANDLED_TYPES, Runner
from services.scorer.local import LocalScoringSource
from services.scorer.worker import HANDLED_TYPES as SCORER_TYPES
from services.scorer.worker import RunScorer
from services.worker_results import BatchingLocalSink

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

    @classmethod
    async def start(cls, database_url: str, *, artifacts: ArtifactStore | None = None,
                    llm: LLMClient | None = None, pool_max: int = 10,
                    resume: bool = True) -> LocalStack:
        rt = await Runtime.start(database_url, artifacts=artifacts, pool_max=pool_max)
        rt.calls_providers = True  # the runner below calls providers with this environment
        sink = BatchingLocalSink(rt.commands)
        traces = trace_writer_from_settings(rt.pool, "harness-runner")
        llm = llm or LLMClient(deployments=get_settings().llm_deployments)
        llm.observers.append(LLMCallTracer(traces))
        runner = Runner(llm=llm, artifacts=rt.artifacts, sink=sink,
                        progress=LocalRunProgress(rt.pool))
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
        rt.start_background()
        if resume:
            await runner.resume_unfinished(stack.load_run_request)
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
        return await self._first(f"run-{run_id}", RunRequested)

    async def load_generation_request(self, generation_id: str) -> GenerationRequested | None:
        return await self._first(f"generation-{generation_id}", GenerationRequested)

    async def stop(self) -> None:
        tasks = [*self.runner.tasks.values(), *self.scorer.tasks.values(),
                 *(self.generator.tasks.values() if self.generator else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except BaseException:  # noqa: BLE001 - cancelled or failed: stopping anyway
                pass
        await self.sink.close()
        await self.scorer_sink.close()
        if self.generator_sink is not None:
            await self.generator_sink.close()
        if self.traces is not None:
            await self.traces.stop()
        await self.runtime.stop()
