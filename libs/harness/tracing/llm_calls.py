"""Traces of ``LLMClient`` calls (the runner's): an observer that turns each finished call
into a :class:`Trace` and queues it on a :class:`TraceWriter` (nothing waits for the write).

What a call is for comes from ``LLMRequest.labels``: ``run_id``, ``prompt_id``,
``prompt_name``, ``prompt_version``, ``application``, ``purpose`` (``case`` or ``judge``).
"""

from __future__ import annotations

from harness import content_parts
from harness.llm import LLMCall

from .record import Trace
from .writer import TraceWriter

# LLMError kinds as the HTTP statuses a gateway would have answered with.
_STATUS_OF_KIND = {"bad_request": 400, "auth": 401, "not_found": 404, "rate_limit": 429,
                   "quota": 429, "timeout": 504}
_SAMPLING = ("temperature", "max_tokens", "top_p")


def _int(v) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def trace_of_call(call: LLMCall, *, source: str = "runner", store_bodies: bool = True) -> Trace:
    req, resp, err = call.request, call.response, call.error
    labels = req.labels
    params = {k: getattr(req, k) for k in _SAMPLING if getattr(req, k) is not None}
    t = Trace(kind="chat", model_requested=req.model, status=200,
              latency_ms=call.latency_ms, created_at=call.started_at,
              source=str(labels.get("source") or source),
              application=labels.get("application"), prompt_id=labels.get("prompt_id"),
              prompt_version=_int(labels.get("prompt_version")),
              run_id=None if labels.get("run_id") is None else str(labels["run_id"]),
              params=params, prompt_name=labels.get("prompt_name"),
              purpose=labels.get("purpose"),
              prompt_references=labels.get("prompt_references")
              if isinstance(labels.get("prompt_references"), list) else None)
    t.session_id = t.run_id  # a run's calls (runner and scorer) are one session
    if resp is not None:
        t.model_answered, t.cached = resp.model, resp.cached
        t.prompt_tokens, t.completion_tokens = resp.prompt_tokens, resp.completion_tokens
        t.cost_usd, t.attempts, t.finish_reason = resp.cost_usd, resp.attempts, \
            resp.finish_reason
        t.ttft_ms = resp.latency_ms
        if resp.cached:  # answered from the response cache: no provider call, no spend
            t.cost_usd, t.attempts = 0.0, 0
    if err is not None:
        t.status = err.status_code if (err.status_code or 0) >= 400 else \
            _STATUS_OF_KIND.get(err.kind, 502)
        t.error = str(err)[:2000]
        t.attempts = err.attempts
    if store_bodies:
        # inline images, audio and files as a placeholder with their size and hash
        t.request = {"messages": content_parts.omit_binary(req.messages), "params": params}
        if labels.get("purpose"):
            t.request["purpose"] = labels["purpose"]
        t.response = {"content": resp.output, "finish_reason": resp.finish_reason} \
            if resp is not None else None
        t.mask_bodies = True  # by the writer, before anything is stored
    return t


class LLMCallTracer:
    """``LLMClient(observers=[LLMCallTracer(writer)])``."""

    def __init__(self, writer: TraceWriter, *, source: str = "runner",
                 store_bodies: bool = True) -> None:
        self.writer = writer
        self.source = source
        self.store_bodies = store_bodies

    def __call__(self, call: LLMCall) -> None:
        self.writer.add(trace_of_call(call, source=self.source, store_bodies=self.store_bodies))


class CallExporter:
    """``LLMClient(observers=[CallExporter(exporter)])``: each call's span goes straight to
    ``exporter`` (an :class:`~harness.tracing.otlp.OtlpExporter`), a child of the span
    current when the call ended; nothing is stored (``harness eval`` has no database)."""

    def __init__(self, exporter, *, source: str = "eval") -> None:
        self.exporter = exporter
        self.exporters = [exporter]  # what spans_of looks for
        self.source = source

    def __call__(self, call: LLMCall) -> None:
        from .spans import current_parent

        t = trace_of_call(call, source=self.source)
        t.mask_bodies = False  # the exporter masks what it sends (HARNESS_OTEL_CONTENT)
        t.parent = current_parent()
        self.exporter.export([t])


def export_calls(llm, service_name: str):
    """With ``HARNESS_OTLP_ENDPOINT`` set: an exporter that ``llm``'s calls now go to (as
    spans nested under :func:`~harness.tracing.spans.spans_of` ``(llm)``'s), to shut down
    when done; else None."""
    from harness.config import get_settings

    from .otlp import exporter_from_settings

    exporter = exporter_from_settings(get_settings().otlp_endpoint, service_name)
    if exporter is not None:
        llm.observers.append(CallExporter(exporter))
    return exporter


__all__ = ["CallExporter", "LLMCallTracer", "export_calls", "trace_of_call"]
