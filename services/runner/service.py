"""The runner as its own service: ``RunRequested`` / ``RunCancelled`` arrive by Pub/Sub
(push at ``/pubsub/push`` on Cloud Run, pull locally); results go out on the ``results``
topic; what is already recorded is read from the registry's REST API."""

from __future__ import annotations

from fastapi import FastAPI

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings
from harness.events import StoredEvent
from harness.events.run_events import RunRequested
from services.worker_results import BusResultSink
from services.worker_service import (
    WorkerParts,
    create_worker_service,
    traced_llm,
    wait_or_redeliver,
)

from .remote import RegistryRunProgress
from .worker import HANDLED_TYPES, Runner


def make_handler(runner: Runner, max_wait_s: float):
    async def on_event(ev: StoredEvent) -> None:
        if ev.type == RunRequested.TYPE:
            task = runner.start(RunRequested.model_validate(ev.data))
            await wait_or_redeliver(task, max_wait_s, f"run {ev.data['run_id']}")
        else:
            await runner.handle(ev)

    return on_event


def build_runner(bus, s: Settings) -> WorkerParts:
    progress = RegistryRunProgress(s.url, s.api_key)
    llm, stop_traces = traced_llm(s, "runner")
    runner = Runner(llm=llm, artifacts=artifact_store_from_settings(s),
                    sink=BusResultSink(bus), progress=progress)
    return WorkerParts(handler=make_handler(runner, s.runner_max_wait_s),
                       tasks=runner.tasks, registry=progress.client,
                       closers=[stop_traces, progress.close])


def create_runner_service(settings: Settings | None = None) -> FastAPI:
    return create_worker_service("runner", HANDLED_TYPES, build_runner, settings)
