"""The gateway as its own service (Cloud Run): the OpenAI-compatible routes, keys, usage
metrics and cost alerts, on the registry's database.

It reads applications and keys from the same Postgres as the registry, keeps the
resolve cache fresh through the registry's notifications, and records ``CostAlertFired``
through the registry's command handler (the registry's outbox relay publishes it). It runs
no relay and no registry background work of its own.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request

from harness.config import Settings, get_settings
from harness.db import resolve_database_url
from harness.web import api_docs, problems
from harness.web.correlation import CorrelationMiddleware

from .app import mount_gateway
from .config import GatewaySettings
from .ports import ResolveApplication, StartRuntime

log = structlog.get_logger(__name__)


def create_gateway_service(settings: Settings | None = None,
                           gateway_settings: GatewaySettings | None = None, *,
                           start_runtime: StartRuntime,
                           resolve: ResolveApplication) -> FastAPI:
    """``start_runtime(database_url)``: the registry's runtime without its relay;
    ``resolve``: the registry's resolve query (``services/bootstrap.py`` passes both)."""
    s = settings or get_settings()
    url = resolve_database_url(s.database_url, s.pgdata_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = await start_runtime(url)
        app.state.runtime = rt
        log.info("gateway_service_started")
        try:
            yield  # the gateway router's lifespan runs inside this one
        finally:
            await rt.stop()
            log.info("service_stopped", service="gateway")

    app = FastAPI(title="harness gateway",
                  description="OpenAI-compatible gateway: routing with fallback, keys, "
                              "budgets, PII masking, traces, usage metrics, cost alerts.",
                  version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    api_docs.install(app)
    problems.install(app)
    app.add_middleware(CorrelationMiddleware)

    @app.get("/healthz", tags=["ops"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request):
        await request.app.state.runtime.pool.fetchval("SELECT 1")
        return {"status": "ready"}

    return mount_gateway(app, gateway_settings, resolve=resolve)
