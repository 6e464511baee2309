"""The runner: turns ``RunRequested`` into one ``CaseResultRecorded`` per case × target ×
repeat, then ``RunCompleted`` with the summary.

Stateless: everything it needs is in the event (pinned prompt contents, params) and the
snapshot it points to. Results already recorded are skipped, so a restarted runner (or a
redelivered message) finishes a run without repeating or duplicating work.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import Callable

import structlog

from harness import metrics
from harness.artifacts import ArtifactStore
from harness.datasets.snapshots import read_snapshot
from harness.evaluation import analysis
from harness.evaluation.execute import Grading, default_judge_model, evaluate_case
from harness.evaluation.models import CaseResult, Target, TestCaseSnapshot
from harness.events import StoredEvent, streams
from harness.events.run_events import (
    CaseResultRecorded,
    RunCancelled,
    RunCompleted,
    RunFailed,
    RunRequested,
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

from .ports import RunProgress

log = structlog.get_logger(__name__)

HANDLED_TYPES = {RunRequested.TYPE, RunCancelled.TYPE}



class Runner:
    def __init__(self, *, llm: LLMClient, artifacts: ArtifactStore, sink: ResultSink,
                 progress: RunProgress, worker_id: str | None = None,
                 on_result: Callable[[CaseResult], None] | None = None) -> None:
        self.llm = llm
        self.artifacts = artifacts
        self.sink = sink
        self.progress = progress
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.on_result = on_result
        self.tasks = WorkerTasks("run")

    # ---- bus entry point -------------------------------------------------------------

    async def handle(self, event: StoredEvent) -> None:
        """Start a run in the background (returns at once), or cancel one."""
        if event.type == RunRequested.TYPE:
            req = RunRequested.model_validate(event.data)
            self.start(req)
        elif event.type == RunCancelled.TYPE:
            self.tasks.cancel(event.data["run_id"])

    def start(self, req: RunRequested) -> asyncio.Task:
        """The run's task (the one in progress, if any: a redelivery joins it)."""
        return self.tasks.start(req.run_id, lambda: self._guarded(req))

    async def _guarded(self, req: RunRequested) -> None:
        metrics.runner_runs.labels("started").inc()
        try:
            with metrics.runner_runs_in_flight.track_inprogress():
                await self.execute(req)
            metrics.runner_runs.labels("completed").inc()
        except asyncio.CancelledError:
            metrics.runner_runs.labels("cancelled").inc()
            with contextlib.suppress(Exception):
                await self.sink.flush()
            raise
        except Exception as exc:
            metrics.runner_runs.labels("failed").inc()
            log.exception("run_failed", run_id=req.run_id)
            await self.sink.publish(streams.run(req.run_id),
                                    RunFailed(run_id=req.run_id, error=f"{type(exc).__name__}: "
                                                                       f"{exc}"),
                                    run_event_id(req.run_id, "failed"))
            await self.sink.flush()

    async def resume_unfinished(self, load_request: Callable) -> int:
        """After a restart: pick up runs that were requested but never completed."""
        count = 0
        for run_id in await self.progress.unfinished_runs():
            req = await load_request(run_id)
            if req is not None:
                self.start(req)
                count += 1
        return count

    # ---- the work ----------------------------------------------------------------------

    async def execute(self, req: RunRequested) -> None:
        spans = spans_of(self.llm)
        with spans.run(req.run_id, input={"dataset": req.dataset_name, "cases": req.case_count,
                                          "targets": [t.get("label") for t in req.targets]},
                       dataset_id=req.dataset_id) as span:
            summary = await self._execute(req, spans)
            if summary is not None:
                span.output({"verdict": summary.verdict,
                             "pass_rate": summary.total.pass_rate})

    async def _execute(self, req: RunRequested, spans: WorkflowSpans
                       ) -> analysis.RunSummary | None:
        status = await self.progress.status(req.run_id)
        if status in ("completed", "cancelled", "failed"):
            return None
        cases = [TestCaseSnapshot.model_validate(c) for c in read_snapshot(
            await self.artifacts.get(req.snapshot_uri), req.snapshot_sha256)]
        # only LLM options reach LiteLLM, whatever an event recorded before the allowlist
        # holds: endpoints and keys are this server's configuration (harness.llm.options)
        targets = [Target.model_validate({**t, "params": allowed_options(t.get("params") or {})})
                   for t in req.targets]
        done = await self.progress.recorded_keys(req.run_id)
        await self.sink.publish(streams.run(req.run_id), RunStarted(run_id=req.run_id,
                                                               worker=self.worker_id),
                                run_event_id(req.run_id, "started"))
        grading = Grading(self.llm, judge_model=req.judge_model or default_judge_model(),
                          judge_params=allowed_options(req.judge_params, JUDGE_OPTIONS) or None,
                          labels={"run_id": req.run_id})
        todo = [(c, t, r) for c, t, r in itertools.product(cases, targets, range(req.repeat))
                if (c.id, t.target_id, r) not in done]
        log.info("run_started", run_id=req.run_id, todo=len(todo), already=len(done))

        work = iter(todo)
        produced: list[CaseResult] = []

        async def worker() -> None:
            for case, target, repeat in work:
                with spans.case(req.run_id, case.id, input=case.input, repeat=repeat,
                                target_id=target.target_id, model=target.model,
                                prompt_name=target.prompt_name,
                                prompt_version=target.prompt_version) as span:
                    with metrics.runner_cases_in_flight.track_inprogress(), \
                            metrics.runner_case_seconds.time():
                        result = await evaluate_case(grading, target, case,
                                                     run_id=req.run_id, repeat=repeat,
                                                     default_assert=req.default_assert,
                                                     cache=req.cache)
                    span.output(result.output)
                    span.facts(status=result.status, score=result.score)
                _count_result(target, result)
                await self.sink.publish(
                    streams.run(req.run_id),
                    CaseResultRecorded(run_id=req.run_id,
                                       result=storable(result.model_dump(mode="json"))),
                    result_event_id(req.run_id, case.id, target.target_id, repeat))
                produced.append(result)
                if self.on_result is not None:
                    self.on_result(result)

        await asyncio.gather(*[worker() for _ in range(min(req.concurrency, len(todo)) or 1)])
        await self.sink.flush()

        # results recorded before this attempt come from the registry; this attempt's come
        # from memory (on a remote bus they may not be ingested yet)
        earlier = [CaseResult.model_validate(r) for r in await self.progress.results(req.run_id)
                   if (r["case_id"], r["target_id"], r.get("repeat", 0)) in done] if done else []
        results = earlier + produced
        summary = analysis.summarize(results, targets, case_threshold=req.case_threshold,
                                     min_pass_rate=req.min_pass_rate)
        await self.sink.publish(streams.run(req.run_id),
                                RunCompleted(run_id=req.run_id,
                                             summary=summary.model_dump(mode="json")),
                                run_event_id(req.run_id, "completed"))
        await self.sink.flush()
        log.info("run_completed", run_id=req.run_id, verdict=summary.verdict)
        return summary


def _count_result(target: Target, result: CaseResult) -> None:
    prompt = target.prompt_name or ""
    version = "" if target.prompt_version is None else str(target.prompt_version)
    metrics.runner_case_results.labels(result.status, prompt, version).inc()
    if result.score is not None:
        metrics.runner_case_score.labels(prompt, version).observe(result.score)
