"""The runner: turns each ``RunShardRequested`` (a shard of a run: a range of its case ×
target × repeat items, see ``harness.evaluation.shards``) into one ``CaseResultRecorded``
per item. Any number of runner instances take a run's shards at once; the registry counts
what is recorded and completes the run (``RunCompleted``) when every item is.

Stateless: everything it needs is in the message (the run's request: pinned prompt
contents, params) and the snapshot it points to. Results already recorded are skipped, so
a restarted runner (or a redelivered shard) finishes a shard without repeating or
duplicating work. A run requested before sharding (``RunRequested.shards == 0``) is
executed whole, as one shard.

Cancellation: ``RunCancelled`` stops this instance's shards of the run at once; on Pub/Sub
it reaches one instance only, so every shard also checks the run's status as it goes
(every ``status_every_s``) and stops when the run has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable

import structlog

from harness import metrics
from harness.artifacts import ArtifactStore
from harness.datasets.snapshots import read_snapshot
from harness.evaluation import shards
from harness.evaluation.execute import Grading, default_judge_model, evaluate_case
from harness.evaluation.models import CaseResult, Target, TestCaseSnapshot
from harness.events import StoredEvent, streams
from harness.events.run_events import (
    CaseResultRecorded,
    RunCancelled,
    RunFailed,
    RunRequested,
    RunShardRequested,
    RunStarted,
    result_event_id,
    run_event_id,
)
from harness.llm import LLMClient
from harness.llm.options import JUDGE_OPTIONS, allowed_options
from harness.storable import storable
from harness.tracing.spans import WorkflowSpans, spans_of
from services.worker_results import ResultSink
from services.worker_tasks import WorkerTasks

from .pool import ShardPool
from .ports import RunProgress

log = structlog.get_logger(__name__)

HANDLED_TYPES = {RunRequested.TYPE, RunShardRequested.TYPE, RunCancelled.TYPE}
ENDED = ("completed", "cancelled", "failed")


def whole_run(req: RunRequested) -> RunShardRequested:
    """A run requested before sharding, as its one shard."""
    total = req.case_count * len(req.targets) * req.repeat
    return RunShardRequested(run_id=req.run_id, shard_id=shards.shard_id(req.run_id, 0),
                             shard=0, shards=1, start=0, stop=total,
                             request=req.model_dump(mode="json"))


def work_of(event: StoredEvent) -> RunShardRequested | None:
    """The shard an event asks for: a shard, or a whole run requested before sharding
    (a sharded run's ``RunRequested`` asks for nothing: its shards follow)."""
    if event.type == RunShardRequested.TYPE:
        return RunShardRequested.model_validate(event.data)
    if event.type == RunRequested.TYPE:
        req = RunRequested.model_validate(event.data)
        return whole_run(req) if req.shards == 0 else None
    return None


def task_key(shard: RunShardRequested) -> str:
    return f"{shard.run_id}/{shard.shard}"


class Runner:
    def __init__(self, *, llm: LLMClient, artifacts: ArtifactStore, sink: ResultSink,
                 progress: RunProgress, worker_id: str | None = None,
                 on_result: Callable[[CaseResult], None] | None = None,
                 status_every_s: float = 2.0, pool: ShardPool | None = None) -> None:
        self.llm = llm
        self.artifacts = artifacts
        self.sink = sink
        self.progress = progress
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.on_result = on_result
        self.status_every_s = status_every_s
        self.pool = pool  # child processes for the items (the local stack, --workers)
        self.tasks = WorkerTasks("run")
        self._snapshots: dict[str, list[TestCaseSnapshot]] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._status: dict[str, tuple[float, str | None]] = {}

    # ---- bus entry point -------------------------------------------------------------

    async def handle(self, event: StoredEvent) -> None:
        """Start a shard in the background (returns at once), or cancel a run's shards."""
        if event.type == RunCancelled.TYPE:
            self.cancel(event.data["run_id"])
            return
        shard = work_of(event)
        if shard is not None:
            self.start(shard)

    def start(self, shard: RunShardRequested) -> asyncio.Task:
        """The shard's task (the one in progress, if any: a redelivery joins it)."""
        return self.tasks.start(task_key(shard), lambda: self._guarded(shard))

    def cancel(self, run_id: str) -> int:
        """Stop this instance's shards of ``run_id``; how many were running."""
        return sum(self.tasks.cancel(key) for key in self.tasks.keys()
                   if key.startswith(f"{run_id}/"))

    async def _guarded(self, shard: RunShardRequested) -> None:
        metrics.runner_runs.labels("started").inc()
        try:
            with metrics.runner_runs_in_flight.track_inprogress():
                await self.execute(shard)
            metrics.runner_runs.labels("completed").inc()
        except asyncio.CancelledError:
            metrics.runner_runs.labels("cancelled").inc()
            with contextlib.suppress(Exception):
                await self.sink.flush()
            raise
        except Exception as exc:
            metrics.runner_runs.labels("failed").inc()
            log.exception("run_failed", run_id=shard.run_id, shard=shard.shard)
            await self.sink.publish(streams.run(shard.run_id),
                                    RunFailed(run_id=shard.run_id,
                                              error=f"{type(exc).__name__}: {exc}"),
                                    run_event_id(shard.run_id, "failed"))
            await self.sink.flush()

    async def resume_unfinished(self, load_work: Callable) -> int:
        """After a restart: pick up the shards of runs that were requested but never
        ended (``load_work(run_id)``: the run's shards)."""
        count = 0
        for run_id in await self.progress.unfinished_runs():
            for shard in await load_work(run_id):
                self.start(shard)
                count += 1
        return count

    # ---- the work ----------------------------------------------------------------------

    async def execute(self, shard: RunShardRequested) -> int:
        """Run the shard's items not recorded yet; how many this attempt recorded.

        The run is one trace (its ``trace_context``): a run of one shard is the run's
        span; a run of several has the run's span (made by the runner of shard 0) and an
        ``evaluation shard`` span per shard under it. Each case is a span under that."""
        req = RunRequested.model_validate(shard.request)
        spans = spans_of(self.llm)
        ctx = req.trace_context
        whole = shard.shards <= 1 or ctx is None
        about = {"dataset": req.dataset_name, "cases": req.case_count,
                 "targets": [t.get("label") for t in req.targets], "shards": shard.shards}
        with contextlib.ExitStack() as stack:
            if whole or shard.shard == 0:
                span = stack.enter_context(spans.run(
                    req.run_id, trace=ctx, input={**about, "shard": shard.shard},
                    dataset_id=req.dataset_id))
            if not whole:
                span = stack.enter_context(spans.run(
                    req.run_id, trace=ctx, span_name="evaluation shard",
                    input={"shard": shard.shard, "items": shard.stop - shard.start},
                    dataset_id=req.dataset_id, shard=shard.shard))
            produced = await self._execute(req, shard, spans)
            span.output({"recorded": produced})
        return produced

    async def _snapshot(self, req: RunRequested) -> list[TestCaseSnapshot]:
        """The run's cases (kept for the next shard of the same run)."""
        cached = self._snapshots.get(req.snapshot_sha256)
        if cached is None:
            cached = [TestCaseSnapshot.model_validate(c) for c in read_snapshot(
                await self.artifacts.get(req.snapshot_uri), req.snapshot_sha256)]
            self._snapshots = {req.snapshot_sha256: cached}  # one run's at a time
        return cached

    def _limit(self, req: RunRequested) -> asyncio.Semaphore:
        """The run's model calls in flight in this instance (``concurrency``), shared by
        every shard of it running here."""
        limit = self._limits.get(req.run_id)
        if limit is None:
            limit = self._limits[req.run_id] = asyncio.Semaphore(max(1, req.concurrency))
        return limit

    async def _ended(self, run_id: str) -> bool:
        """Has the run ended (cancelled elsewhere, failed)? Asked at most every
        ``status_every_s`` per run."""
        now = time.monotonic()
        checked = self._status.get(run_id)
        if checked is None or now - checked[0] >= self.status_every_s:
            checked = self._status[run_id] = (now, await self.progress.status(run_id))
        return checked[1] in ENDED

    async def _execute(self, req: RunRequested, shard: RunShardRequested,
                       spans: WorkflowSpans) -> int:
        status = await self.progress.status(req.run_id)
        if status in ENDED:
            return 0
        cases = await self._snapshot(req)
        # only LLM options reach LiteLLM, whatever an event recorded before the allowlist
        # holds: endpoints and keys are this server's configuration (harness.llm.options)
        targets = [Target.model_validate({**t, "params": allowed_options(t.get("params") or {})})
                   for t in req.targets]
        done = await self.progress.recorded_keys(req.run_id, shard.shard)
        await self.sink.publish(streams.run(req.run_id), RunStarted(run_id=req.run_id,
                                                               worker=self.worker_id),
                                run_event_id(req.run_id, "started"))
        grading = Grading(self.llm, judge_model=req.judge_model or default_judge_model(),
                          judge_params=allowed_options(req.judge_params, JUDGE_OPTIONS) or None,
                          labels={"run_id": req.run_id})
        plan = shards.Shard(shard.shard, shard.start, shard.stop)
        todo = [(cases[c], targets[t], r)
                for c, t, r in shards.items(plan, len(targets), req.repeat)
                if (cases[c].id, targets[t].target_id, r) not in done]
        log.info("shard_started", run_id=req.run_id, shard=shard.shard, shards=shard.shards,
                 todo=len(todo), already=len(plan) - len(todo))

        try:
            if self.pool is not None and shard.shards > 1:
                produced = await self._run_in_pool(req, shard.shard, targets, todo)
            else:
                produced = await self._run_here(req, shard.shard, grading, spans, todo)
        finally:
            if not any(k.startswith(f"{req.run_id}/") and k != task_key(shard)
                       for k in self.tasks.keys()):
                self._limits.pop(req.run_id, None)
                self._status.pop(req.run_id, None)
        await self.sink.flush()
        log.info("shard_recorded", run_id=req.run_id, shard=shard.shard, recorded=produced)
        return produced

    async def _record(self, req: RunRequested, shard: int, target: Target,
                      result: CaseResult) -> None:
        _count_result(target, result)
        await self.sink.publish(
            streams.run(req.run_id),
            CaseResultRecorded(run_id=req.run_id, shard=shard,
                               result=storable(result.model_dump(mode="json"))),
            result_event_id(req.run_id, result.case_id, target.target_id, result.repeat))
        if self.on_result is not None:
            self.on_result(result)

    async def _run_here(self, req: RunRequested, shard: int, grading: Grading,
                        spans: WorkflowSpans,
                        todo: list[tuple[TestCaseSnapshot, Target, int]]) -> int:
        """The items in this process, at most the run's ``concurrency`` at once with its
        other shards here."""
        work = iter(todo)
        limit = self._limit(req)
        produced = 0

        async def worker() -> None:
            nonlocal produced
            for case, target, repeat in work:
                async with limit:  # asked once a call may start: waiting may take long
                    if await self._ended(req.run_id):
                        return
                    result = await self._evaluate(req, grading, spans, case, target, repeat)
                await self._record(req, shard, target, result)
                produced += 1

        await asyncio.gather(*[worker() for _ in range(min(req.concurrency, len(todo)) or 1)])
        return produced

    async def _run_in_pool(self, req: RunRequested, shard: int, targets: list[Target],
                           todo: list[tuple[TestCaseSnapshot, Target, int]]) -> int:
        """The items in one of the pool's processes, at the run's concurrency shared out
        over the pool (the pool's processes together keep the run's ``concurrency``)."""
        assert self.pool is not None
        index = {t.target_id: i for i, t in enumerate(targets)}
        items = [(c.model_dump(mode="json"), index[t.target_id], r) for c, t, r in todo]
        share = -(-req.concurrency // self.pool.workers)
        produced = 0
        # the cases' spans are made in the children and exported here (under the shard's)
        results = self.pool.run(req.model_dump(mode="json"), items, share,
                                spans=spans_of(self.llm))
        try:
            async for data in results:
                result = CaseResult.model_validate(data)
                await self._record(req, shard, targets[index[result.target_id]], result)
                produced += 1
                if await self._ended(req.run_id):
                    break
        finally:
            await results.aclose()
        return produced

    async def _evaluate(self, req: RunRequested, grading: Grading, spans: WorkflowSpans,
                        case: TestCaseSnapshot, target: Target, repeat: int) -> CaseResult:
        with spans.case(req.run_id, case.id, input=case.input, repeat=repeat,
                        target_id=target.target_id, model=target.model,
                        prompt_name=target.prompt_name,
                        prompt_version=target.prompt_version) as span:
            with metrics.runner_cases_in_flight.track_inprogress(), \
                    metrics.runner_case_seconds.time():
                result = await evaluate_case(grading, target, case, run_id=req.run_id,
                                             repeat=repeat, default_assert=req.default_assert,
                                             cache=req.cache)
            span.output(result.output)
            span.facts(status=result.status, score=result.score)
            case_span = span.context()
        if case_span is not None:  # the scorer's spans of this result nest under it
            result = result.model_copy(update={"trace_context": case_span})
        return result


def _count_result(target: Target, result: CaseResult) -> None:
    prompt = target.prompt_name or ""
    version = "" if target.prompt_version is None else str(target.prompt_version)
    metrics.runner_case_results.labels(result.status, prompt, version).inc()
    if result.score is not None:
        metrics.runner_case_score.labels(prompt, version).observe(result.score)
