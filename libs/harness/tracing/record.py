"""One traced LLM call (a gateway request or a runner call): what was asked, who answered,
what it took. Stored as a row of ``gateway_traces`` and exported as an OpenTelemetry span."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

import orjson
from pydantic import Field

from harness.storable import storable
from harness.web.bodies import RequestBody

# The stored columns, in insert order (``params`` is exported, not stored).
COLUMNS = ("id", "created_at", "source", "kind", "key_id", "key_name", "application",
           "prompt_id", "prompt_version", "run_id", "model_requested", "model_answered",
           "stream", "cached", "status", "error", "latency_ms", "ttft_ms", "prompt_tokens",
           "completion_tokens", "cost_usd", "attempts", "pii_action", "request", "response",
           "prompt_references", "otel_trace_id", "otel_span_id")
JSON_COLUMNS = ("request", "response", "prompt_references")

Source = Literal["gateway", "runner", "scorer", "generator"]
SOURCES: tuple[str, ...] = get_args(Source)


@dataclass
class Trace:
    kind: str                     # chat | embeddings
    model_requested: str
    status: int                   # HTTP-like: 200, or the error's status
    latency_ms: float
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # call start
    source: str = "gateway"
    key_id: uuid.UUID | None = None
    key_name: str | None = None
    application: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    # the versions the prompt's references resolved to (composed prompts), as resolved
    prompt_references: list[dict[str, Any]] | None = None
    run_id: str | None = None
    model_answered: str | None = None
    stream: bool = False
    cached: bool = False
    error: str | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int | None = None
    pii_action: str | None = None
    request: Any = None
    response: Any = None
    params: dict[str, Any] | None = None  # sampling parameters asked (exported only)
    finish_reason: str | None = None      # exported only
    # exported only (OpenTelemetry): the prompt's name (Langfuse links prompts by name and
    # version), what the call was for (case, judge), who and which session asked, and the
    # span the call happened in (its parent; taken when the trace is queued)
    prompt_name: str | None = None
    purpose: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    variant: str | None = None            # exported only: a split's variant ("v4")
    parent: Any = None                    # an opentelemetry SpanContext
    # stored: the OpenTelemetry trace and span the call happened in (hex; taken with parent)
    otel_trace_id: str | None = None
    otel_span_id: str | None = None
    mask_bodies: bool = False             # mask request/response before they are stored
    bodies_masked: bool = False           # they were (the exporter need not mask again)

    def row(self) -> tuple:
        """The values of :data:`COLUMNS` as asyncpg takes them, with every string made
        storable (:mod:`harness.storable`: NUL and lone surrogates become U+FFFD)."""
        values = []
        for c in COLUMNS:
            v = storable(getattr(self, c))
            if c in JSON_COLUMNS:
                v = None if v is None else orjson.dumps(v, default=str).decode()
            elif c == "cost_usd" and v is not None:
                v = Decimal(repr(v))
            values.append(v)
        return tuple(values)

    def wire(self) -> dict[str, Any]:
        """The stored columns as JSON (what a worker posts to ``POST /traces``)."""
        out = {}
        for c in COLUMNS:
            v = getattr(self, c)
            out[c] = v.isoformat() if isinstance(v, datetime) else \
                str(v) if isinstance(v, uuid.UUID) else v
        return out


class TraceIn(RequestBody):
    """One trace as a worker reports it (the stored columns)."""

    id: uuid.UUID
    created_at: datetime
    source: Source
    kind: Literal["chat", "embeddings"]
    key_id: uuid.UUID | None = None
    key_name: str | None = None
    application: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    # the versions the prompt's references resolved to (composed prompts), as resolved
    prompt_references: list[dict[str, Any]] | None = None
    run_id: str | None = None
    model_requested: str = Field(min_length=1)
    model_answered: str | None = None
    stream: bool = False
    cached: bool = False
    status: int = Field(ge=100, le=599)
    error: str | None = None
    latency_ms: float = Field(ge=0)
    ttft_ms: float | None = None
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)
    cost_usd: float | None = Field(None, ge=0)
    attempts: int | None = None
    pii_action: str | None = None
    request: Any = None
    response: Any = None
    # the OpenTelemetry trace and span the call happened in (lowercase hex)
    otel_trace_id: str | None = Field(None, pattern="^[0-9a-f]{32}$")
    otel_span_id: str | None = Field(None, pattern="^[0-9a-f]{16}$")

    def to_trace(self) -> Trace:
        return Trace(**self.model_dump())
