"""``GET /metrics/usage`` (tokens, cost and latency per model, application, key or prompt
version over time; ``scores``: the traces' mean score per prompt version, model and score name)
and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request, Response

from harness import metrics
from harness.tracing.record import SOURCES
from harness.web.auth import require
from harness.web.input_guard import Timestamp
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from .. import metrics as usage_metrics
from ..gateway import Gateway, current_gateway

router = APIRouter()


@router.get("/metrics/usage", tags=["gateway"])
async def usage(group_by: str = Query("model", pattern="^(app|model|key|version)$",
                                     description="version: the application (or prompt) "
                                                 "and the prompt version that served, e.g. "
                                                 "'support-app v4' (a split's variants)"),
                interval: str = Query("hour", pattern="^(hour|day)$"),
                since: Timestamp | None = None, until: Timestamp | None = None,
                source: str | None = Query(None, pattern=f"^({'|'.join(SOURCES)})$"),
                _=Depends(require("viewer")), gw: Gateway = Depends(current_gateway)):
    until = until or datetime.now(UTC) + timedelta(minutes=1)
    try:
        since = since or until - timedelta(days=1)
    except OverflowError as exc:
        raise ProblemError(422, "validation-error", "until: too early to look a day back",
                           field="until") from exc
    await gw.traces.flush()
    return {"group_by": group_by, "interval": interval, "since": since, "until": until,
            "source": source,
            "items": await usage_metrics.usage(gw.rt.pool, group_by, interval, since,
                                               until, source),
            "scores": await usage_metrics.score_series(gw.rt.pool, interval, since, until,
                                                       source)}


@router.get("/metrics", tags=["gateway"],
            **media_types("text/plain", description="Prometheus text format"))
async def prometheus(request: Request, gw: Gateway = Depends(current_gateway)):
    """Prometheus text. Once the server has API keys it needs one with the role
    ``metrics`` (or any higher role), unless ``HARNESS_GATEWAY_METRICS_PUBLIC=true``."""
    if not gw.settings.metrics_public:
        await require("metrics")(request)
    # and every other service of this process (``harness up`` serves one /metrics)
    return Response(gw.prometheus_text() + metrics.exposition(),
                    media_type=metrics.CONTENT_TYPE)
