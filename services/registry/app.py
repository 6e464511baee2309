"""The registry's FastAPI application."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from harness.logging import bind_correlation

from . import problems
from .routes import applications, events, prompts
from .runtime import Runtime

log = structlog.get_logger(__name__)

ROUTERS = [prompts.router, applications.router, events.router]


def create_app(database_url: str | None = None, *, runtime: Runtime | None = None,
               relay: bool = True, extra_routers: list | None = None) -> FastAPI:
    """Either pass a started ``runtime`` (tests, ``harness up``) or a ``database_url``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime
        owned = rt is None
        if rt is None:
            assert database_url, "database_url or runtime is required"
            rt = await Runtime.start(database_url, relay=relay)
            rt.start_background()
        app.state.runtime = rt
        try:
            yield
        finally:
            if owned:
                await rt.stop()

    app = FastAPI(
        title="harness registry",
        description="Event-sourced prompt registry: prompts, immutable versions, one active "
                    "version per prompt, applications resolved at run time.",
        version="0.1.0",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    problems.install(app)

    @app.middleware("http")
    async def correlation(request: Request, call_next):
        cid = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        request.state.correlation_id = cid
        bind_correlation(cid)
        response = await call_next(request)
        response.headers["X-Correlation-ID"] = cid
        return response

    @app.get("/healthz", tags=["ops"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request):
        await request.app.state.runtime.pool.fetchval("SELECT 1")
        return {"status": "ready"}

    for r in [*ROUTERS, *(extra_routers or [])]:
        app.include_router(r)
    return app
