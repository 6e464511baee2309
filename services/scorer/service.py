"""The scorer as its own service: ``RunCompleted``, ``RunScoringShardRequested`` (a
completed run's scoring work items, one per runner shard) and ``TraceSampled`` (a stored trace
the registry's sampler picked for an online evaluator) arrive by Pub/Sub (the ``scoring``
topic; push at ``/pubsub/push`` on Cloud Run, pull locally); scores go out on the
``results`` topic (``ScoresRecorded``, ``TraceScored``); the run, the evaluator, the trace
and the scores already recorded are read from the registry's REST API."""

from __future__ import annotations

import structlog
from fastapi import FastAPI

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings, get_settings
from harness.events import StoredEvent
from harness.events.feedback_events import TraceSampled
from services.worker_results import BusResultSink
from services.worker_service import (
    WorkerParts,
    create_worker_service,
    traced_llm,
    wait_or_redeliver,
)

from .online import OnlineScorer
from .ports import SampledTraces
from .remote import RegistryScoringSource
from .worker import HANDLED_TYPES, RunScorer, scoring_target

log = structlog.get_logger(__name__)

SERVICE_TYPES = HANDLED_TYPES | {TraceSampled.TYPE}


def make_handler(scorer: RunScorer, max_wait_s: float,
                 online: OnlineScorer | None = None, traces: SampledTraces | None = None):
    """Ack a ``RunCompleted`` (or a scoring shard) once its run (shard) is scored; a
    failure (or a wait longer than ``max_wait_s``) nacks it, and the redelivery joins the
    scoring still in progress or scores what is not recorded yet. Ack a ``TraceSampled``
    once its score is proposed (or it needs none: scored already, evaluator paused, trace
    gone); a failure nacks it."""

    async def on_event(ev: StoredEvent) -> None:
        if ev.type == TraceSampled.TYPE and online is not None and traces is not None:
            outcome = await online.score_sampled(traces, ev.data["trace_id"],
                                                 ev.data["evaluator_id"])
            log.info(f"online_trace_{outcome}", trace_id=ev.data["trace_id"],
                     evaluator_id=ev.data["evaluator_id"])
            return
        task = scorer.task_for(ev)
        if task is None:
            return
        # a RunCompleted has no shard: the whole run
        what = f"scoring of {scoring_target(ev.data['run_id'], ev.data.get('shard'))}"
        await wait_or_redeliver(task, max_wait_s, what)

    return on_event


def build_scorer(bus, s: Settings) -> WorkerParts:
    source = RegistryScoringSource(s.url, s.api_key)
    llm, stop_traces = traced_llm(s, "scorer")
    scorer = RunScorer(llm=llm, artifacts=artifact_store_from_settings(s),
                       sink=BusResultSink(bus, actor="scorer"), source=source)
    # online evaluation: its judge calls are traced as the scorer's, never sampled again
    online = OnlineScorer(llm=llm, sink=BusResultSink(bus, actor="scorer"))
    return WorkerParts(handler=make_handler(scorer, s.scorer_max_wait_s, online, source),
                       tasks=scorer.tasks, registry=source.client,
                       closers=[stop_traces, source.close])


def create_scorer_service(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()
    return create_worker_service("scorer", SERVICE_TYPES, build_scorer, s,
                                 max_messages=s.scorer_messages_at_once)
