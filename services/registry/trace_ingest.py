"""``POST /traces``: trace batches from workers that have no database of their own (the
runner on Cloud Run posts its LLM calls' traces to the registry, which stores them in
``gateway_traces`` like the gateway's own). Only the registry service mounts it: locally
the runner writes its traces itself."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import Field

from harness.config import get_settings
from harness.tracing import PostgresTraceStore
from harness.tracing.record import TraceIn
from harness.tracing.writer import mask_bodies
from harness.web.auth import require
from harness.web.bodies import RequestBody


class TraceBatchIn(RequestBody):
    traces: list[TraceIn] = Field(min_length=1, max_length=5000)


def trace_ingest_router() -> APIRouter:
    router = APIRouter(tags=["traces"])

    @router.post("/traces", status_code=204)
    async def ingest(body: TraceBatchIn, request: Request, _=Depends(require("editor"))):
        traces = [t.to_trace() for t in body.traces]
        for t in traces:  # workers mask before sending; masking again costs little
            mask_bodies(t)
        store = getattr(request.app.state, "trace_store", None)
        if store is None:
            store = request.app.state.trace_store = PostgresTraceStore(
                request.app.state.runtime.pool, get_settings().gateway_trace_retention_days)
        await store.write(traces)
        return Response(status_code=204)

    return router
