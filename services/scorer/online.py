"""Online evaluation: the scorer reads stored traces as they are written and scores each
one an active evaluator selects and samples (``harness.evaluation.online``), with the
evaluator's assertion (the same engine as runs; ``llm-rubric`` through its judge) or Ragas
metric, on the trace's masked input and answer.

Each score goes to the results sink as ``TraceScored`` (source ``evaluator``) with a
deterministic event id (uuid5 of evaluator and trace), and before scoring a page the
scores already recorded are read and skipped: a restart that re-reads traces after the
last checkpoint neither records a score twice nor calls a judge again for a recorded one.
The checkpoint moves once the page's scores are flushed. The scorer's own calls (judges)
are traced with source ``scorer`` and never fed back.

When the scorer is its own service (Pub/Sub, Cloud Run) it has no database: the
registry's sampler picks the traces and each arrives as ``TraceSampled`` on the
``scoring`` topic; :meth:`OnlineScorer.score_sampled` reads the evaluator and the trace
(with the scores it has) from the registry, skips a trace that evaluator scored already
(a redelivery, a restart), and proposes ``TraceScored`` on the ``results`` topic under the
same deterministic id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import structlog

from harness import metrics
from harness.assertions import evaluate_assertion
from harness.assertions.models import AssertionContext
from harness.evaluation.execute import Grading, default_judge_model
from harness.evaluation.online import matches, sampled, score_event_id
from harness.events import streams
from harness.events.feedback_events import MAX_SCORE_MAGNITUDE, TraceScored, storable_score
from harness.llm import LLMClient, LLMError
from harness.llm.errors import HEALTH_KINDS
from harness.tracing.feed import follow
from harness.tracing.spans import spans_of
from services.worker_results import ResultSink

from .ports import FedTrace, OnlineEvaluator, SampledTraces, TraceFeed

log = structlog.get_logger(__name__)

CHECKPOINT = "online-evaluation"
MAX_COMMENT = 4000
LATEST_SCORES = 100  # the gauge's window per evaluator
# a judge failure worth another delivery (an outage, a rate limit, a quota); a bad request
# or a missing key fails again the same way and is recorded as no score
TRANSIENT = HEALTH_KINDS


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else str(content)


def answer_of(response: Any) -> str:
    """The answer's text in a stored response (``{"content"}`` or OpenAI's choices)."""
    if not isinstance(response, dict):
        return _text(response)
    if "content" in response:
        return _text(response["content"])
    with contextlib.suppress(KeyError, IndexError, TypeError):
        return _text(response["choices"][0]["message"]["content"])
    return ""


def question_of(request: Any) -> str:
    """The last user message of a stored request (masked, as stored)."""
    messages = request.get("messages") if isinstance(request, dict) else None
    for m in reversed(messages or []):
        if isinstance(m, dict) and m.get("role") == "user":
            return _text(m.get("content"))
    return ""


def variables_of(request: Any) -> dict[str, Any]:
    v = request.get("variables") if isinstance(request, dict) else None
    return dict(v) if isinstance(v, dict) else {}


def selects(evaluator: OnlineEvaluator, trace: FedTrace) -> bool:
    return matches(evaluator.traffic, trace.model_dump()) and sampled(
        evaluator.id, trace.id, evaluator.sampling_rate)


class OnlineScorer:
    def __init__(self, *, llm: LLMClient, sink: ResultSink, feed: TraceFeed | None = None,
                 page_size: int = 200, poll_s: float = 0.5, concurrency: int = 8) -> None:
        self.llm = llm
        self.gate = asyncio.Semaphore(concurrency)  # scores (judge calls) at once
        self.feed = feed
        self.sink = sink
        self.page_size = page_size
        self.poll_s = poll_s
        self.recorded = 0
        self.task: asyncio.Task | None = None
        self.latest: dict[str, deque[float]] = {}  # evaluator name -> its latest scores

    async def step(self) -> int:
        """Score one page of new traces; the number of traces read (0: caught up)."""
        if self.feed is None:
            raise RuntimeError("this scorer has no trace feed (its traces come as events)")
        traces = await self.feed.next_traces(CHECKPOINT, self.page_size)
        if not traces:
            return 0
        evaluators = await self.feed.evaluators()
        work = [(e, t) for t in traces for e in evaluators if selects(e, t)]
        if work:
            done = await self.feed.scored(list(dict.fromkeys(t.id for _, t in work)))
            work = [(e, t) for e, t in work if (e.id, t.id) not in done]
            scores = await asyncio.gather(*(self._score(e, t) for e, t in work))
            for (e, t), event in zip(work, scores, strict=True):
                self._observe(e, event)
                if event is not None:
                    await self.sink.publish(streams.trace(t.id), event,
                                            score_event_id(e.id, t.id))
                    self.recorded += 1
            await self.sink.flush()
        await self.feed.save_checkpoint(CHECKPOINT, traces[-1].position)
        return len(traces)

    async def score_sampled(self, source: SampledTraces, trace_id: str, evaluator_id: str
                            ) -> str:
        """Score a trace the registry's sampler picked for an evaluator; what happened:
        ``scored``, ``already_scored``, ``evaluator_inactive`` (paused or deleted since),
        ``trace_gone`` (past retention) or ``score_error`` (the assertion could not
        decide, e.g. a judge model without credentials; logged). A failed call to the
        registry, or a judge call that failed for a passing reason (rate limit, outage,
        quota: ``TRANSIENT``), raises: the message is redelivered, nothing was recorded."""
        evaluator = await source.evaluator(evaluator_id)
        if evaluator is None:
            return "evaluator_inactive"
        found = await source.trace(trace_id)
        if found is None:
            return "trace_gone"
        trace, scored_by = found
        if evaluator.id in scored_by:
            return "already_scored"
        async with self.gate:
            try:
                event = await self._score_now(evaluator, trace, raise_failures=True)
            except Exception:
                self._observe(evaluator, None)
                raise
        self._observe(evaluator, event)
        if event is None:
            return "score_error"
        await self.sink.publish(streams.trace(trace.id), event,
                                score_event_id(evaluator.id, trace.id))
        await self.sink.flush()
        self.recorded += 1
        return "scored"

    def _observe(self, evaluator: OnlineEvaluator, event: TraceScored | None) -> None:
        """Per evaluator (by name: a bounded label, unlike its id) the count of scores and
        failures, and the mean of its latest scores as a gauge a quality alert can watch."""
        metrics.online_scores.labels(evaluator.name, "error" if event is None else "ok").inc()
        if event is None:
            return
        latest = self.latest.setdefault(evaluator.name, deque(maxlen=LATEST_SCORES))
        latest.append(event.value)
        metrics.online_score_mean.labels(evaluator.name).set(sum(latest) / len(latest))

    async def _score(self, evaluator: OnlineEvaluator, trace: FedTrace) -> TraceScored | None:
        async with self.gate:
            return await self._score_now(evaluator, trace)

    async def _score_now(self, evaluator: OnlineEvaluator, trace: FedTrace, *,
                         raise_failures: bool = False) -> TraceScored | None:
        # exported: one span per score, its judge calls under it
        with spans_of(self.llm).evaluation(trace.id, evaluator.name,
                                           input=answer_of(trace.response),
                                           parent=trace.trace_context,
                                           evaluator_id=evaluator.id) as span:
            try:
                if evaluator.assertion is not None:
                    event = await self._assert(evaluator, trace, raise_failures)
                else:
                    event = await self._metric(evaluator, trace)
            except Exception as exc:  # noqa: BLE001 - one bad score never stops the feed
                if raise_failures:
                    raise
                log.warning("online_score_failed", evaluator_id=evaluator.id,
                            trace_id=trace.id, error=f"{type(exc).__name__}: {exc}")
                span.error(f"{type(exc).__name__}: {exc}")
                return None
            if event is not None and not storable_score(event.value):
                log.warning("online_score_unstorable", evaluator_id=evaluator.id,
                            trace_id=trace.id, value=repr(event.value))
                span.error(f"no score: {event.value!r} is not a number of at most "
                           f"{MAX_SCORE_MAGNITUDE:g} in magnitude")
                return None
            if event is None:
                span.error("no score: the assertion or metric could not decide")
            else:
                span.output({"value": event.value, "label": event.label,
                             "comment": event.comment})
            return event

    def _event(self, evaluator: OnlineEvaluator, trace: FedTrace, value: float,
               label: str | None, comment: str) -> TraceScored:
        return TraceScored(trace_id=trace.id, name=evaluator.name, data_type="numeric",
                           value=value, label=label, comment=(comment or "")[:MAX_COMMENT],
                           source="evaluator", evaluator_id=evaluator.id)

    async def _assert(self, evaluator: OnlineEvaluator, trace: FedTrace,
                      raise_failures: bool = False) -> TraceScored | None:
        grading = Grading(llm=self.llm, judge_model=evaluator.judge_model or default_judge_model(),
                          labels={"source": "scorer", "evaluator_id": evaluator.id})
        failed: list[LLMError] = []  # the assertion reports them as errors; kept to re-raise

        async def judge(messages: list[dict], provider: Any) -> str:
            try:
                return await grading.judge(messages, provider)
            except LLMError as exc:
                failed.append(exc)
                raise

        question = question_of(trace.request)
        ctx = AssertionContext(vars={**variables_of(trace.request), "question": question},
                               prompt=question, latency_ms=trace.latency_ms,
                               cost_usd=trace.cost_usd, judge=judge,
                               embed=grading.embed)
        result = await evaluate_assertion(evaluator.assertion or {}, answer_of(trace.response),
                                          ctx)
        if result.error and raise_failures and any(e.kind in TRANSIENT for e in failed):
            raise failed[0]  # the provider failed for now, not the assertion: try again
        if result.error:
            log.warning("online_score_error", evaluator_id=evaluator.id, trace_id=trace.id,
                        reason=result.reason)
            return None
        return self._event(evaluator, trace, result.score,
                           "pass" if result.passed else "fail", result.reason)

    async def _metric(self, evaluator: OnlineEvaluator, trace: FedTrace) -> TraceScored | None:
        from harness.scoring import Scorer, ScoringInput

        scorer = Scorer(self.llm, evaluator.judge_model or default_judge_model())
        [score] = await scorer.score_case(ScoringInput(
            question=question_of(trace.request), answer=answer_of(trace.response)),
            [evaluator.metric or ""])
        if score.status != "ok" or score.value is None:
            log.warning("online_score_error", evaluator_id=evaluator.id, trace_id=trace.id,
                        status=score.status, reason=score.reason)
            return None
        return self._event(evaluator, trace, float(score.value), None, score.reason or "")

    async def run(self) -> None:
        """Score new traces until cancelled (a failed page is retried after a pause)."""
        await follow(self.step, poll_s=self.poll_s, failed_event="online_evaluation_failed")

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="online-scorer")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
