"""The scorer as its own service: ``RunCompleted`` arrives by Pub/Sub (the ``scoring``
topic; push at ``/pubsub/push`` on Cloud Run, pull locally); scores go out on the
``results`` topic; the run and the scores already recorded are read from the registry's
REST API."""

from __future__ import annotations

from fastapi import FastAPI

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings
from harness.events import StoredEvent
from harness.events.run_events import RunCompleted
from services.worker_results import BusResultSink
from services.worker_service import (
    WorkerParts,
    create_worker_service,
    traced_llm,
    wait_or_redeliver,
)

from .remote import RegistryScoringSource
from .worker import HANDLED_TYPES, RunScorer


def make_handler(scorer: RunScorer, max_wait_s: float):
    """Ack a ``RunCompleted`` once its run is scored; a failure (or a wait longer than
    ``max_wait_s``) nacks it, and the redelivery joins the scoring still in progress or
    scores what is not recorded yet."""

    async def on_event(ev: StoredEvent) -> None:
        if ev.type != RunCompleted.TYPE:
            return
        task = scorer.start(ev.data["run_id"])
        await wait_or_redeliver(task, max_wait_s, f"scoring of run {ev.data['run_id']}")

    return on_event


def build_scorer(bus, s: Settings) -> WorkerParts:
    source = RegistryScoringSource(s.url, s.api_key)
    llm, stop_traces = traced_llm(s, "scorer")
    scorer = RunScorer(llm=llm, artifacts=artifact_store_from_settings(s),
                       sink=BusResultSink(bus, actor="scorer"), source=source)
    return WorkerParts(handler=make_handler(scorer, s.scorer_max_wait_s),
                       tasks=scorer.tasks, registry=source.client,
                       closers=[stop_traces, source.close])


def create_scorer_service(settings: Settings | None = None) -> FastAPI:
    return create_worker_service("scorer", HANDLED_TYPES, build_scorer, settings)
