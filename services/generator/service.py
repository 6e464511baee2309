"""The generator as its own service: ``GenerationRequested`` and ``GenerationCancelled``
arrive by Pub/Sub (push at ``/pubsub/push`` on Cloud Run, pull locally); facts go out on
the ``results`` topic; what a generation has recorded (and whether it was cancelled) is
read from the registry's REST API."""

from __future__ import annotations

from fastapi import FastAPI

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings
from harness.events import StoredEvent
from harness.events.generation_events import GenerationRequested
from services.worker_results import BusResultSink
from services.worker_service import (
    WorkerParts,
    create_worker_service,
    traced_llm,
    wait_or_redeliver,
)

from .remote import RegistryGenerationProgress
from .worker import HANDLED_TYPES, Generator


def make_handler(generator: Generator, max_wait_s: float):
    async def on_event(ev: StoredEvent) -> None:
        if ev.type != GenerationRequested.TYPE:
            await generator.handle(ev)  # GenerationCancelled: stop it if it runs here
            return
        task = generator.start(GenerationRequested.model_validate(ev.data))
        await wait_or_redeliver(task, max_wait_s, f"generation {ev.data['generation_id']}")

    return on_event


def build_generator(bus, s: Settings) -> WorkerParts:
    progress = RegistryGenerationProgress(s.url, s.api_key)
    llm, stop_traces = traced_llm(s, "generator")
    generator = Generator(llm=llm, artifacts=artifact_store_from_settings(s),
                          sink=BusResultSink(bus, actor="generator"), progress=progress,
                          default_model=s.judge_model)
    # a push request waits as long as the runner's does, then asks for redelivery
    return WorkerParts(handler=make_handler(generator, s.runner_max_wait_s),
                       tasks=generator.tasks, registry=progress.client,
                       closers=[stop_traces, progress.close])


def create_generator_service(settings: Settings | None = None) -> FastAPI:
    return create_worker_service("generator", HANDLED_TYPES, build_generator, settings)
