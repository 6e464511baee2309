"""The registry's FastAPI application."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import structlog
from fastapi import FastAPI, Request

from harness.web import api_docs, openapi_errors, problems
from harness.web.correlation import CorrelationMiddleware

from . import problem_types
from .limits import RequestLimits
from .resolve_fastpath import ResolveFastPath
from .routes import (
    applications,
    datasets,
    evaluators,
    events,
    feedback,
    generations,
    governance,
    prompts,
    queues,
    review,
    runs,
    score_alerts,
    trace_cases,
    traces,
    webhooks,
)
from .runtime import Runtime

log = structlog.get_logger(__name__)


ROUTERS = [prompts.router, applications.router, datasets.router, runs.router,
           governance.router, events.router, generations.router, review.router,
           traces.router, trace_cases.router, feedback.router, queues.router,
           webhooks.router, evaluators.router, score_alerts.router]


class Stack(Protocol):
    """Work that runs beside the registry in one process, on its runtime (``harness up``:
    the runner, scorer and generator; ``services/bootstrap.py`` builds it)."""

    runtime: Runtime

    async def stop(self) -> None: ...


StartStack = Callable[[str], Awaitable[Stack]]


def create_app(database_url: str | None = None, *, runtime: Runtime | None = None,
               relay: bool = True, start_stack: StartStack | None = None,
               extra_routers: list | None = None) -> FastAPI:
    """Either pass a started ``runtime`` (tests) or a ``database_url``; with
    ``start_stack`` the lifespan starts the stack on ``database_url`` and serves its
    runtime (``harness up``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        rt = runtime
        stack = None
        if rt is None and start_stack is not None:
            assert database_url, "database_url or runtime is required"
            stack = await start_stack(database_url)
            rt = stack.runtime
        owned = rt is None
        if rt is None:
            assert database_url, "database_url or runtime is required"
            rt = await Runtime.start(database_url, relay=relay)
            rt.start_background()
        app.state.runtime = rt
        try:
            yield
        finally:
            if stack is not None:
                await stack.stop()
            elif owned:
                await rt.stop()

    app = FastAPI(
        title="harness registry",
        description="Event-sourced prompt registry: prompts, immutable versions, one active "
                    "version per prompt, applications resolved at run time.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # served from local assets, not a CDN: below
    )
    api_docs.install(app)
    if runtime is not None:
        app.state.runtime = runtime
    problems.install(app)
    problem_types.install(app)

    app.add_middleware(ResolveFastPath)  # innermost: cached resolves skip routing and DI
    app.add_middleware(RequestLimits)  # inside the correlation id: its answers carry one
    app.add_middleware(CorrelationMiddleware)

    @app.get("/healthz", tags=["ops"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz(request: Request):
        await request.app.state.runtime.pool.fetchval("SELECT 1")
        return {"status": "ready"}

    for r in [*ROUTERS, *(extra_routers or [])]:
        app.include_router(r)
    openapi_errors.install(app)
    return app

