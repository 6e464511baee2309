"""The OpenAI-compatible gateway: ``/v1/chat/completions``, ``/v1/embeddings``,
``/v1/models``, plus ``/metrics/usage``, ``/metrics``, keys and cost alerts, one module per
concern under :mod:`services.gateway.routes`.

The routes find the :class:`~services.gateway.gateway.Gateway` on
``request.app.state.gateway``. It is built from the app's runtime by the router's
lifespan, after the runtime has started (``harness up`` starts its runtime in the
registry's lifespan), or up front when the runtime is already running
(``services/bootstrap.py``'s ``gateway_app``). The registry's parts come in through
:mod:`.ports`.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI

from harness.tracing.asgi import RequestSpans
from harness.tracing.spans import NO_SPANS, WorkflowSpans

from . import openai_errors
from .config import GatewaySettings
from .gateway import Gateway
from .ports import ResolveApplication
from .routes import alerts, chat, embeddings, keys, models, usage

log = structlog.get_logger(__name__)

_ROUTERS = (chat.router, embeddings.router, models.router, usage.router, keys.router,
            alerts.router)


def gateway_router(settings: GatewaySettings | None = None, *,
                   resolve: ResolveApplication) -> APIRouter:
    """The gateway's routes. Its lifespan builds the :class:`Gateway` from
    ``app.state.runtime`` once the app's own lifespan has started it (unless one is already
    on ``app.state.gateway``), and flushes traces on shutdown."""

    @asynccontextmanager
    async def lifespan(app):
        gw = getattr(app.state, "gateway", None)
        if gw is None:
            gw = app.state.gateway = Gateway(app.state.runtime, settings, resolve=resolve)
        gw.start()
        log.info("gateway_started", otlp=bool(gw.settings.otlp_endpoint))
        try:
            yield
        finally:
            await gw.stop()

    router = APIRouter(tags=["gateway"], lifespan=lifespan)
    for concern in _ROUTERS:
        router.include_router(concern)
    return router


def mount_gateway(app: FastAPI, settings: GatewaySettings | None = None, *,
                  resolve: ResolveApplication) -> FastAPI:
    """Add the gateway's routes to ``app`` and OpenAI's error envelope to its ``/v1``
    answers (every app serving the gateway is composed through here)."""
    app.include_router(gateway_router(settings, resolve=resolve))
    openai_errors.install(app)
    # a span per model call, continuing the caller's traceparent (its LLM call nests in it)
    app.add_middleware(RequestSpans, spans=_gateway_spans, paths=MODEL_PATHS)
    return app


MODEL_PATHS = ("/v1/chat/completions", "/v1/embeddings")


def _gateway_spans(app) -> WorkflowSpans:
    gw = getattr(app.state, "gateway", None) if app is not None else None
    return gw.spans if gw is not None else NO_SPANS
