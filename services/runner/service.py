"""The runner as its own service: ``RunRequested`` / ``RunCancelled`` arrive by Pub/Sub
(push at ``/pubsub/push`` on Cloud Run, pull locally); results go out on the ``results``
topic; what is already recorded is read from the registry's REST API."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI, Request

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings, get_settings
from harness.events import StoredEvent
from harness.events.run_events import RunRequested
from harness.llm import LLMClient
from harness.tracing import HttpTraceStore, LLMCallTracer, trace_writer_from_settings

from .remote import BusResultSink, RegistryRunProgress
from .worker import HANDLED_TYPES, Runner

log = structlog.get_logger(__name__)


class RunStillInProgress(Exception):
    """The push request waited long enough; Pub/Sub redelivers and the run goes on."""


def make_handler(runner: Runner, max_wait_s: float):
    async def on_event(ev: StoredEvent) -> None:
        if ev.type == RunRequested.TYPE:
            task = runner.start(RunRequested.model_validate(ev.data))
            try:
                await asyncio.wait_for(asyncio.shield(task), max_wait_s)
            except TimeoutError as exc:
                raise RunStillInProgress(ev.data["run_id"]) from exc
        else:
            await runner.handle(ev)

    return on_event


def create_runner_service(settings: Settings | None = None) -> FastAPI:
    from harness.bus.oidc import PushTokenVerifier
    from harness.bus.pubsub import PubSubBus
    from harness.bus.push import push_router

    s = settings or get_settings()
    if not s.url:
        raise SystemExit("the runner needs HARNESS_URL (the registry) to read run progress")
    holder: dict = {}

    async def on_event(ev: StoredEvent) -> None:
        await holder["handler"](ev)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bus = PubSubBus.from_settings(s)
        progress = RegistryRunProgress(s.url, s.api_key)
        # every LLM call's trace, batched to the registry's POST /traces
        traces = trace_writer_from_settings(HttpTraceStore(s.url, s.api_key), "harness-runner")
        runner = Runner(llm=LLMClient(observers=[LLMCallTracer(traces)]),
                        artifacts=artifact_store_from_settings(s),
                        sink=BusResultSink(bus), progress=progress)
        holder["handler"] = make_handler(runner, s.runner_max_wait_s)
        holder["progress"] = progress
        if s.delivery == "pull":
            bus.subscribe("runner", on_event, types=HANDLED_TYPES)
            await bus.start()
        log.info("runner_service_started", delivery=s.delivery)
        try:
            yield
        finally:
            # stop taking work, then release what is in flight: cancelled runs are picked
            # up again on redelivery and skip what was recorded
            await bus.close()
            for task in list(runner.tasks.values()):
                task.cancel()
            await asyncio.gather(*runner.tasks.values(), return_exceptions=True)
            await traces.stop()
            await progress.close()
            log.info("service_stopped", service="runner")

    app = FastAPI(title="harness runner", lifespan=lifespan)
    app.include_router(push_router(on_event, PushTokenVerifier.from_settings(s)))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request):
        try:
            r = await holder["progress"].client.get("/healthz")
            r.raise_for_status()
        except (httpx.HTTPError, KeyError) as exc:
            from fastapi.responses import JSONResponse

            return JSONResponse({"status": "registry unreachable", "detail": str(exc)}, 503)
        return {"status": "ready"}

    return app
