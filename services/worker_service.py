"""A stateless worker (runner, scorer, generator) as its own service over Pub/Sub.

Messages arrive by push at ``/pubsub/push`` on Cloud Run (pull locally); what the worker
produces goes out on the ``results`` topic for the registry to ingest; what is already
recorded is read from the registry's REST API. Each worker supplies only how to build its
parts (:class:`WorkerParts`); the lifecycle, health checks and the wait-then-redeliver
rule live here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from harness.config import Settings, get_settings
from harness.events import StoredEvent
from harness.llm import LLMClient
from harness.metrics import LLMCallMetrics
from harness.tracing import HttpTraceStore, LLMCallTracer, trace_writer_from_settings
from harness.web import api_docs
from harness.web.metrics import metrics_router
from services.worker_tasks import WorkerTasks

log = structlog.get_logger(__name__)


class StillInProgress(Exception):
    """The push request waited long enough; Pub/Sub redelivers and the work goes on
    (what was recorded meanwhile is skipped on redelivery)."""


async def wait_or_redeliver(task: asyncio.Task, max_wait_s: float, what: str) -> None:
    """Wait for ``task`` up to ``max_wait_s`` (it keeps going after that); past the wait,
    :class:`StillInProgress` nacks the message so that its redelivery joins the work."""
    try:
        await asyncio.wait_for(asyncio.shield(task), max_wait_s)
    except TimeoutError as exc:
        raise StillInProgress(what) from exc


@dataclass
class WorkerParts:
    """What a worker service runs: ``handler`` for each delivered event, ``tasks`` its
    work in flight (cancelled on shutdown), ``registry`` the client whose ``/healthz``
    makes the service ready, ``closers`` awaited on shutdown after the tasks end."""

    handler: Callable[[StoredEvent], Awaitable[None]]
    tasks: WorkerTasks
    registry: httpx.AsyncClient
    closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)


def traced_llm(settings: Settings, name: str) -> tuple[LLMClient, Callable[[], Awaitable]]:
    """An LLM client whose every call's trace is batched to the registry's ``POST /traces``
    (and OTLP when configured), and the coroutine function that flushes and stops it."""
    traces = trace_writer_from_settings(HttpTraceStore(settings.url, settings.api_key),
                                        f"harness-{name}")
    return LLMClient(observers=[LLMCallTracer(traces, source=name), LLMCallMetrics()],
                     deployments=settings.llm_deployments), traces.stop


def create_worker_service(name: str, handled_types: set[str],
                          build: Callable[[object, Settings], WorkerParts],
                          settings: Settings | None = None, *,
                          max_messages: int | None = None) -> FastAPI:
    """The FastAPI app of worker ``name``: ``build(bus, settings)`` makes its parts when
    the app starts; the bus subscription ``name`` takes ``handled_types`` in pull mode,
    ``max_messages`` at a time (default: the pull consumer's)."""
    from harness.bus.oidc import PushTokenVerifier
    from harness.bus.pubsub import PubSubBus
    from harness.bus.push import push_router

    s = settings or get_settings()
    if not s.url:
        raise SystemExit(f"the {name} needs HARNESS_URL (the registry) to read what is "
                         "recorded")
    holder: dict[str, WorkerParts] = {}

    async def on_event(ev: StoredEvent) -> None:
        await holder["parts"].handler(ev)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        bus = PubSubBus.from_settings(s)
        parts = holder["parts"] = build(bus, s)
        if s.delivery == "pull":
            bus.subscribe(name, on_event, types=handled_types, max_messages=max_messages)
            await bus.start()
        log.info(f"{name}_service_started", delivery=s.delivery)
        try:
            yield
        finally:
            # stop taking work, then release what is in flight: cancelled work is picked
            # up again on redelivery and skips what was recorded
            await bus.close()
            await parts.tasks.cancel_all()
            for close in parts.closers:
                await close()
            log.info("service_stopped", service=name)

    app = FastAPI(title=f"harness {name}", lifespan=lifespan, docs_url=None, redoc_url=None)
    api_docs.install(app)
    app.include_router(push_router(on_event, PushTokenVerifier.from_settings(s)))
    app.include_router(metrics_router(keyed=False))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        try:
            r = await holder["parts"].registry.get("/healthz")
            r.raise_for_status()
        except (httpx.HTTPError, KeyError) as exc:
            return JSONResponse({"status": "registry unreachable", "detail": str(exc)}, 503)
        return {"status": "ready"}

    return app
