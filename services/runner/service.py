"""The runner as its own service: a run's shards (``RunShardRequested``, one message each)
and ``RunCancelled`` arrive by Pub/Sub (push at ``/pubsub/push`` on Cloud Run, pull
locally); results go out on the ``results`` topic; what is already recorded is read from
the registry's REST API. Each instance takes any shards of any run: more instances finish
a run sooner, and a shard whose instance died is redelivered to another."""

from __future__ import annotations

from fastapi import FastAPI

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings, get_settings
from harness.events import StoredEvent
from services.worker_results import BusResultSink
from services.worker_service import (
    WorkerParts,
    create_worker_service,
    traced_llm,
    wait_or_redeliver,
)

from .remote import RegistryRunProgress
from .worker import HANDLED_TYPES, Runner, work_of


def make_handler(runner: Runner, max_wait_s: float):
    """A shard's message is acked once the shard is done (a dead instance's is
    redelivered); a cancellation at once."""

    async def on_event(ev: StoredEvent) -> None:
        shard = work_of(ev)
        if shard is not None:
            await wait_or_redeliver(runner.start(shard), max_wait_s,
                                    f"run {shard.run_id} shard {shard.shard}")
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
    s = settings or get_settings()
    return create_worker_service("runner", HANDLED_TYPES, build_runner, s,
                                 max_messages=s.runner_shards_at_once)
