"""The scorer as its own service: ``RunCompleted`` arrives by Pub/Sub (the ``scoring``
topic; push at ``/pubsub/push`` on Cloud Run, pull locally); scores go out on the
``results`` topic; the run and the scores already recorded are read from the registry's
REST API."""

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
from harness.events.run_events import RunCompleted
from harness.llm import LLMClient
from services.runner.remote import BusResultSink

from .remote import RegistryScoringSource
from .worker import HANDLED_TYPES, RunScorer

log = structlog.get_logger(__name__)


class ScoringStillInProgress(Exception):
    """The push request waited long enough; Pub/Sub redelivers and the scoring goes on."""


def make_handler(scorer: RunScorer, max_wait_s: float):
    """Ack a ``RunCompleted`` once its run is scored; a failure (or a wait longer than
    ``max_wait_s``) nacks it, and the redelivery joins the scoring still in progress or
    scores what is not recorded yet."""

    async def on_event(ev: StoredEvent) -> None:
        if ev.type != RunCompleted.TYPE:
            return
        task = scorer.start(ev.data["run_id"])
        try:
            await asyncio.wait_for(asyncio.shield(task), max_wait_s)
        except TimeoutError as exc:
            raise ScoringStillInProgress(ev.data["run_id"]) from exc

    return on_event


def create_scorer_service(settings: Settings | None = None) -> FastAPI:
    from harness.bus.oidc import PushTokenVerifier
    from harness.bus.pubsub import PubSubBus
    from harness.bus.push import push_router

    s = settings or get_settings()
    if not s.url:
        raise SystemExit("the scorer needs HARNESS_URL (the registry) to read runs and results")
    holder: dict = {}

    async def on_event(ev: StoredEvent) -> None:
        await holder["handler"](ev)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bus = PubSubBus.from_settings(s)
        source = RegistryScoringSource(s.url, s.api_key)
        scorer = RunScorer(llm=LLMClient(), artifacts=artifact_store_from_settings(s),
                           sink=BusResultSink(bus, actor="scorer"), source=source)
        holder["handler"] = make_handler(scorer, s.scorer_max_wait_s)
        holder["source"] = source
        if s.delivery == "pull":
            bus.subscribe("scorer", on_event, types=HANDLED_TYPES)
            await bus.start()
        log.info("scorer_service_started", delivery=s.delivery)
        try:
            yield
        finally:
            # stop taking work, then release what is in flight: a cancelled scoring is
            # redelivered and skips what was recorded
            await bus.close()
            for task in list(scorer.tasks.values()):
                task.cancel()
            await asyncio.gather(*scorer.tasks.values(), return_exceptions=True)
            await source.close()
            log.info("service_stopped", service="scorer")

    app = FastAPI(title="harness scorer", lifespan=lifespan)
    app.include_router(push_router(on_event, PushTokenVerifier.from_settings(s)))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        try:
            r = await holder["source"].client.get("/healthz")
            r.raise_for_status()
        except (httpx.HTTPError, KeyError) as exc:
            return JSONResponse({"status": "registry unreachable", "detail": str(exc)}, 503)
        return {"status": "ready"}

    return app
