"""W3C trace context carried across the bus, so that work done later and elsewhere joins
the trace of what asked for it.

A request that starts work in the background (``POST /runs``, a generation) records a
*trace context* on its event: ``{"trace_id", "span_id", "parent_span_id"?}`` (lowercase
hex) — the trace the work belongs to (the caller's, when its request carried a
``traceparent``; else a new one), the id the work's own span will have, and the caller's
span it is a child of. The worker that does the work starts its span with exactly those
ids (:meth:`harness.tracing.spans.WorkflowSpans.run`), and records the ids of the spans it
makes for smaller units (a case: ``CaseResult.trace_context``), so that a later worker
(the scorer) nests its spans under them.

Pure: nothing here needs an exporter; ids are allocated whether or not anything exports.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")


def parse_traceparent(value: str | None) -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of a W3C ``traceparent`` header, or None when it is absent
    or invalid (an unknown version ``ff``, all-zero ids): the caller's context is then
    ignored, as the W3C recommendation asks, not refused."""
    if not value:
        return None
    m = _TRACEPARENT.match(value.strip().lower())
    if m is None or m.group(1) == "ff":
        return None
    trace_id, span_id = m.group(2), m.group(3)
    if int(trace_id, 16) == 0 or int(span_id, 16) == 0:
        return None
    return trace_id, span_id


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


def allocate(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """The trace context of work a request asks for: in the caller's trace (a child of
    its span) when ``headers`` carry a valid ``traceparent``, else in a new trace."""
    caller = parse_traceparent((headers or {}).get("traceparent"))
    if caller is None:
        return {"trace_id": new_trace_id(), "span_id": new_span_id()}
    return {"trace_id": caller[0], "span_id": new_span_id(), "parent_span_id": caller[1]}


def valid(ctx: Any) -> dict[str, str] | None:
    """``ctx`` when it is a well-formed trace context (from an event), else None."""
    if not isinstance(ctx, Mapping):
        return None
    trace_id, span_id = ctx.get("trace_id"), ctx.get("span_id")
    if not (isinstance(trace_id, str) and _TRACE_ID.match(trace_id)
            and isinstance(span_id, str) and _SPAN_ID.match(span_id)):
        return None
    out = {"trace_id": trace_id, "span_id": span_id}
    parent = ctx.get("parent_span_id")
    if isinstance(parent, str) and _SPAN_ID.match(parent):
        out["parent_span_id"] = parent
    return out


def of_span(trace_id: str | None, span_id: str | None) -> dict[str, str] | None:
    """A stored span's ids (``gateway_traces.otel_trace_id``/``otel_span_id``) as a
    context ``{"trace_id", "span_id"}``; None when there are none."""
    return valid({"trace_id": trace_id, "span_id": span_id})


def traceparent(ctx: Mapping[str, str]) -> str:
    """The W3C header naming ``ctx``'s span (sampled)."""
    return f"00-{ctx['trace_id']}-{ctx['span_id']}-01"


def remote_parent(trace_id: str, span_id: str) -> Any:
    """An OpenTelemetry context whose current span is the (remote) span ``span_id`` of
    ``trace_id``: spans started in it are its children."""
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    return trace.set_span_in_context(NonRecordingSpan(SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED))))


__all__ = ["allocate", "new_span_id", "new_trace_id", "of_span", "parse_traceparent",
           "remote_parent",
           "traceparent", "valid"]
