"""The generator as its own service: ``GenerationRequested`` arrives by Pub/Sub (push at
``/pubsub/push`` on Cloud Run, pull locally); facts go out on the ``results`` topic; what
a generation has recorded is read from the registry's REST API."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from harness.artifacts import artifact_store_from_settings
from harness.config import Settings, get_settings
from harness.events import StoredEvent
from harness.events.generation_events import GenerationRequested
from harness.llm import LLMClient
from services.runner.remote import BusResultSink

from .remote import RegistryGenerationProgress
from .worker import HANDLED_TYPES, Generator

log = structlog.get_logger(__name__)


class GenerationStillInProgress(Exception):
    """The push request waited long enough; Pub/Sub redelivers and the work goes on
    (recorded batches are skipped on redelivery)."""


def make_handler(generator: Generator, max_wait_s: float):
    async def on_event(ev: StoredEvent) -> None:
        if ev.type != GenerationRequested.TYPE:
            return
        task = generator.start(GenerationRequested.model_validate(ev.data))
        try:
            await asyncio.wait_for(asyncio.shield(task), max_wait_s)
        except TimeoutError as exc:
            raise GenerationStillInProgress(ev.data["generation_id"]) from exc

    return on_event


def create_generator_service(settings: Settings | None = None) -> FastAPI:
    from harness.bus.oidc import PushTokenVerifier
    from harness.bus.pubsub import PubSubBus
    from harness.bus.push import push_router

    s = settings or get_settings()
    if not s.url:
        raise SystemExit("the generator needs HARNESS_URL (the registry) to read progress")
    holder: dict = {}

    async def on_event(ev: StoredEvent) -> None:
        await holder["handler"](ev)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bus = PubSubBus.from_settings(s)
        progress = RegistryGenerationProgress(s.url, s.api_key)
        generator = Generator(llm=LLMClient(), artifacts=artifact_store_from_settings(s),
                              sink=BusResultSink(bus, actor="generator"), progress=progress,
                              default_model=s.judge_model)
        # a push request waits as long as the runner's does, then asks for redelivery
        holder["handler"] = make_handler(generator, s.runner_max_wait_s)
        holder["progress"] = progress
        if s.delivery == "pull":
            bus.subscribe("generator", on_event, types=HANDLED_TYPES)
            await bus.start()
        log.info("generator_service_started", delivery=s.delivery)
        try:
            yield
        finally:
            # stop taking work, then release what is in flight: a cancelled generation is
            # redelivered and skips the batches it recorded
            await bus.close()
            for task in list(generator.tasks.values()):
                task.cancel()
            await asyncio.gather(*generator.tasks.values(), return_exceptions=True)
            await progress.close()
            log.info("service_stopped", service="generator")

    app = FastAPI(title="harness generator", lifespan=lifespan)
    app.include_router(push_router(on_event, PushTokenVerifier.from_settings(s)))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        try:
            r = await holder["progress"].client.get("/healthz")
            r.raise_for_status()
        except (httpx.HTTPError, KeyError) as exc:
            return JSONResponse({"status": "registry unreachable", "detail": str(exc)}, 503)
        return {"status": "ready"}

    return app
