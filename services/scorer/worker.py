"""The scorer: turns ``RunCompleted`` of a run that asked for metrics into one
``ScoresRecorded`` per result (case × target × repeat) and metric.

Stateless like the runner: the run's metrics, judge and snapshot come from the registry,
the cases from the snapshot the run pinned. Before computing anything it reads which
scores are already recorded and computes only the others, so a redelivered message or a
restarted scorer repeats no judge call for a recorded score; deterministic event ids
(``score_event_id``) make a score proposed twice count once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import structlog

from harness import metrics as prom
from harness.artifacts import ArtifactNotFound, ArtifactStore
from harness.datasets.snapshots import read_snapshot
from harness.evaluation.execute import default_judge_model
from harness.evaluation.models import CaseResult
from harness.events import StoredEvent, streams
from harness.events.run_events import (
    RunCompleted,
    RunScoringShardRequested,
    ScoresRecorded,
    score_event_id,
)
from harness.llm import LLMClient
from harness.scoring import DEFAULT_JUDGE_CONCURRENCY, MetricScore, Scorer, resolve_metrics
from harness.scoring.scorer import CaseWrapper
from harness.tracing.spans import spans_of
from services.worker_results import ResultSink
from services.worker_tasks import WorkerTasks

from .inputs import scoring_input
from .ports import ScoringJob, ScoringSource

log = structlog.get_logger(__name__)

HANDLED_TYPES = {RunCompleted.TYPE, RunScoringShardRequested.TYPE}


def scoring_target(run_id: str, shard: int | None) -> str:
    """What a scoring task scores, for people: the run, or one of its shards."""
    return f"run {run_id}" if shard is None else f"run {run_id} shard {shard}"


class ResultsStillArriving(Exception):
    """Some results of a completed run are not ingested yet; a redelivery finishes it."""



def todo(results: list[CaseResult], metrics: list[str]) -> list[tuple[CaseResult, list[str]]]:
    """Each result with the metrics it has no recorded score for (results fully scored
    left out)."""
    out = []
    for r in results:
        missing = [m for m in metrics if m not in r.scores]
        if missing:
            out.append((r, missing))
    return out


def score_event(result: CaseResult, score: MetricScore, judge_model: str | None
                ) -> ScoresRecorded:
    return ScoresRecorded(
        run_id=result.run_id, case_id=result.case_id, target_id=result.target_id,
        repeat=result.repeat, metric=score.metric, status=score.status, value=score.value,
        reason=score.reason, judge_model=judge_model if score.judge_calls else None,
        judge_calls=score.judge_calls, cached_calls=score.cached_calls,
        prompt_tokens=score.prompt_tokens, completion_tokens=score.completion_tokens,
        cost_usd=score.cost_usd, embedding_calls=score.embedding_calls,
        duration_ms=round(score.duration_ms, 3), engine=score.engine, details=score.details)


def case_spans(llm: LLMClient, results: list[CaseResult]) -> CaseWrapper:
    """A span per result scored (its judge calls nest under it), the scores its output:
    a child of the runner's span of the case when the result recorded one (the run's
    trace), else of the current span."""
    spans = spans_of(llm)

    @contextlib.contextmanager
    def around(i: int):
        r = results[i]
        with spans.case(r.run_id, r.case_id, name="scoring case", kind="EVALUATOR",
                        input=r.output, parent=r.trace_context, target_id=r.target_id,
                        repeat=r.repeat) as span:
            yield lambda scores: span.output({s.metric: s.value if s.status == "ok"
                                              else s.status for s in scores})

    return around


class RunScorer:
    """Scores completed runs. ``batch_size`` results are scored together (their judge
    calls limited to ``max_concurrency`` at a time, their embeddings fetched in batches);
    each batch's scores are published before the next starts, so progress shows."""

    def __init__(self, *, llm: LLMClient, artifacts: ArtifactStore, sink: ResultSink,
                 source: ScoringSource, batch_size: int = 128,
                 max_concurrency: int = DEFAULT_JUDGE_CONCURRENCY,
                 wait_results_s: float = 30.0, poll_s: float = 0.5) -> None:
        self.llm = llm
        self.artifacts = artifacts
        self.sink = sink
        self.source = source
        self.batch_size = batch_size
        self.wait_results_s = wait_results_s
        self.poll_s = poll_s
        self.limiter = asyncio.Semaphore(max_concurrency)
        self.tasks = WorkerTasks("score")

    # ---- bus entry point -------------------------------------------------------------

    async def handle(self, event: StoredEvent) -> None:
        """Start scoring a completed run, or one of its scoring shards, in the background
        (returns at once)."""
        self.task_for(event)

    def task_for(self, event: StoredEvent) -> asyncio.Task | None:
        """The scoring task ``event`` asks for (started, or joined when in progress), or
        None: a run completed with scoring shards is scored by them, not by its
        ``RunCompleted``."""
        if event.type not in HANDLED_TYPES:
            return None
        prom.scorer_lag_seconds.observe(prom.seconds_since(event.recorded_at))
        if event.type == RunScoringShardRequested.TYPE:
            item = RunScoringShardRequested.model_validate(event.data)
            return self.start(item.run_id, item.shard, item.results)
        if event.data.get("scoring_shards"):
            return None
        return self.start(event.data["run_id"])

    def start(self, run_id: str, shard: int | None = None,
              expected: int | None = None) -> asyncio.Task:
        """The scoring task of the run, or of its shard ``shard`` (``expected`` results):
        the one in progress, if any (a redelivery joins it)."""
        key = run_id if shard is None else f"{run_id}/{shard}"
        return self.tasks.start(key, lambda: self._guarded(run_id, shard, expected))

    async def _guarded(self, run_id: str, shard: int | None = None,
                       expected: int | None = None) -> int:
        try:
            published = await self.score_run(run_id, shard, expected)
            prom.scorer_runs.labels("completed" if published else "nothing-to-do").inc()
            return published
        except asyncio.CancelledError:
            prom.scorer_runs.labels("cancelled").inc()
            with contextlib.suppress(Exception):
                await self.sink.flush()
            raise
        except ResultsStillArriving as exc:
            log.warning("scoring_incomplete", run_id=run_id, detail=str(exc))
            raise
        except Exception:
            prom.scorer_runs.labels("failed").inc()
            log.exception("scoring_failed", run_id=run_id)
            raise

    async def resume_unfinished(self) -> int:
        """After a restart: score the completed runs whose scores are not all in."""
        runs = await self.source.unscored_runs()
        for run_id in runs:
            self.start(run_id)
        return len(runs)

    # ---- the work ----------------------------------------------------------------------

    async def score_run(self, run_id: str, shard: int | None = None,
                        expected: int | None = None) -> int:
        """Compute and publish the scores of ``run_id`` (of its runner shard ``shard``,
        ``expected`` results, when given) not yet recorded; returns how many.

        On Pub/Sub a run's last results may be ingested after its ``RunCompleted``: results
        that arrive while the run is scored are scored too; if some are still missing
        after ``wait_results_s``, :class:`ResultsStillArriving` asks for a redelivery."""
        job = await self.source.job(run_id)
        if job is None or not job.metrics or job.status != "completed":
            return 0
        judge_model = self._judge_model(job)
        # in the run's trace (under its span) when the run has one, else a trace of its own
        name = "scoring run" if shard is None else "scoring shard"
        with spans_of(self.llm).run(run_id, span_name=name, trace=job.trace_context,
                                    input={"metrics": job.metrics, "shard": shard},
                                    judge_model=judge_model) as span:
            published = await self._score_run(job, judge_model, shard, expected)
            span.output({"scores": published})
        return published

    async def _score_run(self, job: ScoringJob, judge_model: str | None,
                         shard: int | None = None, expected: int | None = None) -> int:
        run_id = job.run_id
        expected = job.expected_results if expected is None else expected
        scorer = Scorer(self.llm, judge_model, job.embedding_model,
                        judge_params=job.judge_params, limiter=self.limiter)
        cases: dict[str, dict] | None = None
        unreadable: str | None = None
        handled: set[tuple[str, str, int]] = set()  # results scored by this attempt
        published = 0
        deadline = asyncio.get_running_loop().time() + self.wait_results_s
        while True:
            results = await self.source.results(run_id, shard)
            work = [(r, m) for r, m in todo(results, job.metrics)
                    if (r.case_id, r.target_id, r.repeat) not in handled]
            if work:
                if cases is None:
                    cases, unreadable = await self._cases(job)
                    log.info("scoring_started", run_id=run_id, shard=shard, metrics=job.metrics,
                             results=len(work), judge_model=judge_model)
                for start in range(0, len(work), self.batch_size):
                    batch = work[start:start + self.batch_size]
                    published += await self._score_batch(scorer, batch, cases, judge_model,
                                                         unreadable)
                    await self.sink.flush()
                handled.update((r.case_id, r.target_id, r.repeat) for r, _ in work)
            if len(results) >= expected:
                break
            if asyncio.get_running_loop().time() >= deadline:
                raise ResultsStillArriving(f"{scoring_target(run_id, shard)}: {len(results)} "
                                           f"of {expected} results recorded")
            await asyncio.sleep(self.poll_s)
        log.info("scoring_completed" if published else "scoring_already_done", run_id=run_id,
                 shard=shard, scores=published)
        return published

    async def _cases(self, job: ScoringJob) -> tuple[dict[str, dict], str | None]:
        """The run's snapshot cases by id, or why they cannot be read (then every score
        is an error saying so, rather than a run that never finishes scoring)."""
        try:
            data = await self.artifacts.get(job.snapshot_uri)
            return {c["id"]: c for c in read_snapshot(data, job.snapshot_sha256)}, None
        except (ArtifactNotFound, ValueError) as exc:
            reason = f"the run's dataset snapshot cannot be read: {exc}"
            log.error("scoring_snapshot_unreadable", run_id=job.run_id, error=reason)
            return {}, reason

    @staticmethod
    def _judge_model(job: ScoringJob) -> str | None:
        if not any(spec.uses_judge for spec in resolve_metrics(job.metrics)):
            return None
        return job.judge_model or default_judge_model()

    async def _score_batch(self, scorer: Scorer, batch: list[tuple[CaseResult, list[str]]],
                           cases: dict[str, dict], judge_model: str | None,
                           unreadable: str | None) -> int:
        # results needing the same metrics are scored together (one group, usually)
        groups: dict[tuple[str, ...], list[CaseResult]] = defaultdict(list)
        for result, metrics in batch:
            groups[tuple(metrics)].append(result)
        count = 0
        for metrics, results in groups.items():
            if unreadable:
                all_scores = [[MetricScore(metric=m, status="error", reason=unreadable)
                               for m in metrics] for _ in results]
            else:
                inputs = [scoring_input(cases.get(r.case_id, {}), r) for r in results]
                all_scores = await scorer.score_cases(inputs, list(metrics),
                                                      around=case_spans(self.llm, results))
            for result, scores in zip(results, all_scores, strict=True):
                for score in scores:
                    _count_score(score)
                    await self.sink.publish(
                        streams.run(result.run_id), score_event(result, score, judge_model),
                        score_event_id(result.run_id, result.case_id, result.target_id,
                                       result.repeat, score.metric))
                    count += 1
        return count


def _count_score(score: MetricScore) -> None:
    failed = score.status == "error"
    prom.scorer_scores.labels(score.metric, "error" if failed else "ok").inc()
    if failed:
        prom.scorer_judge_errors.labels(score.metric).inc()
    elif score.value is not None:
        prom.scorer_score.labels(score.metric).observe(score.value)
