"""/traces: read the stored LLM calls (gateway, runner, scorer, generator).

Viewers may read. Only the stored form is ever shown: bodies are masked before they are
stored (``harness.tracing.writer.mask_bodies``), and lists carry summaries without them.
The SQL lives in :mod:`..read.queries.traces`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from harness.tracing.context import of_span
from harness.tracing.record import Source
from harness.web.auth import require
from harness.web.input_guard import INT32_MAX, Timestamp

from ..domain.errors import Invalid, NotFound
from ..read.queries.feedback import trace_scores
from ..read.queries.traces import BadCursor, Cursor, TraceFilter, get_trace, list_traces
from ..schemas import ScoreOut
from .deps import runtime

router = APIRouter(prefix="/traces", tags=["traces"])


class TraceSummaryOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    source: str
    kind: str
    key_id: uuid.UUID | None
    key_name: str | None
    application: str | None
    prompt_id: str | None
    prompt_version: int | None
    run_id: str | None
    model_requested: str
    model_answered: str | None
    stream: bool
    cached: bool
    status: int
    error: str | None
    latency_ms: float
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None  # null = price unknown, never a silent 0
    attempts: int | None
    pii_action: str | None


class TracePromptOut(BaseModel):
    """The prompt version the call rendered (an ``app/<name>`` call, or a run's target)."""

    id: str
    name: str | None  # null when the prompt is not in this registry
    version: int | None
    # the versions its {{ prompt("name@label") }} references resolved to for this call
    references: list[dict[str, Any]] = []


class TraceOut(TraceSummaryOut):
    prompt: TracePromptOut | None
    request: Any = None   # as stored: masked
    response: Any = None  # as stored: masked
    scores: list[ScoreOut] = []  # POST /traces/{id}/scores
    # the OpenTelemetry span the call happened in ({"trace_id", "span_id"}, hex: a gateway
    # request's, continuing its caller's traceparent; a run's case); null when none was
    trace_context: dict[str, str] | None = None


class TracePage(BaseModel):
    items: list[TraceSummaryOut]
    limit: int
    next_cursor: str | None  # pass as ``cursor`` for the next (older) page; null at the end


def _summary(row) -> dict[str, Any]:
    d = dict(row)
    tokens = [d["prompt_tokens"], d["completion_tokens"]]
    d["total_tokens"] = None if all(t is None for t in tokens) else sum(t or 0 for t in tokens)
    return d


@router.get("", response_model=TracePage)
async def list_traces_route(
        since: Timestamp | None = Query(None, description="recorded at or after"),
        until: Timestamp | None = Query(None, description="recorded before"),
        source: Source | None = Query(None),
        model: str | None = Query(None, description="model asked for or that answered"),
        application: str | None = Query(None),
        prompt_id: str | None = Query(None),
        prompt_version: int | None = Query(None, ge=1, le=INT32_MAX),
        key: str | None = Query(None, description="gateway key id or name"),
        status: Literal["ok", "error"] | None = Query(None),
        min_latency_ms: float | None = Query(None, ge=0, allow_inf_nan=False),
        min_cost_usd: float | None = Query(None, ge=0, allow_inf_nan=False),
        q: str | None = Query(None, description="text in the masked request or response "
                                                "(case-insensitive, literal)"),
        score_below: float | None = Query(None, allow_inf_nan=False,
                                          description="has a score below this value"),
        score_name: str | None = Query(None, description="has a score of this name "
                                                         "(with score_below: that score)"),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
        limit: int = Query(50, ge=1, le=500, description="page size"),
        rt=Depends(runtime), _=Depends(require("viewer"))):
    """Trace summaries, newest first (recorded time, then id), filtered; page on with
    ``cursor``. Bodies come from ``GET /traces/{id}``."""
    if since is not None and until is not None and _aware(until) <= _aware(since):
        raise Invalid("until: must be later than since", field="until")
    after = None
    if cursor is not None:
        try:
            after = Cursor.decode(cursor)
        except BadCursor as exc:
            raise Invalid(f"cursor: {exc}", field="cursor") from exc
    f = TraceFilter(since=since, until=until, source=source, model=model,
                    application=application, prompt_id=prompt_id,
                    prompt_version=prompt_version, key=key, status=status,
                    min_latency_ms=min_latency_ms, min_cost_usd=min_cost_usd, q=q,
                    score_below=score_below, score_name=score_name)
    rows, nxt = await list_traces(rt.pool, f, limit=limit, after=after)
    return TracePage(items=[TraceSummaryOut(**_summary(r)) for r in rows], limit=limit,
                     next_cursor=nxt.encode() if nxt else None)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@router.get("/{trace_id}", response_model=TraceOut)
async def get_trace_route(trace_id: uuid.UUID = Path(description="trace id"),
                          rt=Depends(runtime), _=Depends(require("viewer"))):
    """One whole trace: the masked request and response, tokens, cost, latency, the
    prompt version it used and its scores."""
    row = await get_trace(rt.pool, trace_id)
    if row is None:
        raise NotFound(f"trace {trace_id} not found")
    d = _summary(row)
    name = d.pop("prompt_name")
    references = d.pop("prompt_references") or []
    d["prompt"] = (None if d["prompt_id"] is None else
                   {"id": d["prompt_id"], "name": name, "version": d["prompt_version"],
                    "references": references})
    d["scores"] = await trace_scores(rt.pool, trace_id)
    d["trace_context"] = of_span(d.pop("otel_trace_id"), d.pop("otel_span_id"))
    return TraceOut(**d)
