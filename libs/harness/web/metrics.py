"""``GET /metrics``: this process's Prometheus metrics (:mod:`harness.metrics`).

Workers serve it open (they hold no API keys; on Cloud Run the Managed Service for
Prometheus sidecar scrapes it on loopback); the registry asks for a key with the role
``metrics`` unless ``HARNESS_GATEWAY_METRICS_PUBLIC=true``, like the gateway. ``harness
up`` serves one ``/metrics`` for the whole process: the gateway's, which adds these.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from harness import metrics
from harness.config import get_settings

from .openapi_errors import media_types


def metrics_router(*, keyed: bool) -> APIRouter:
    """The route; with ``keyed`` a caller needs the role ``metrics`` unless the settings
    make ``/metrics`` public."""
    router = APIRouter()

    @router.get("/metrics", tags=["metrics"],
                **media_types("text/plain", description="Prometheus text format"))
    async def prometheus(request: Request) -> Response:
        """Prometheus text: every ``harness_*`` metric of this process."""
        if keyed and not get_settings().gateway_metrics_public:
            from .auth import require

            await require("metrics")(request)
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    return router
