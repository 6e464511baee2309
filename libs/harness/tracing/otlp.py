"""OpenTelemetry export of traces (OTLP/HTTP, protobuf) with the GenAI semantic conventions,
so Langfuse, Phoenix or any collector receives them. Off unless an endpoint is configured
(``HARNESS_OTLP_ENDPOINT``); headers (e.g. auth) come from ``OTEL_EXPORTER_OTLP_HEADERS``.

Spans are built from finished traces with their real start and end times and handed to the
SDK's batch processor, which sends them from its own thread.
"""

from __future__ import annotations

from typing import Any

from .record import Trace

# GenAI semantic conventions (gen_ai.*); gen_ai.system is the older name of
# gen_ai.provider.name, both are set so older and newer backends understand the span.
OPERATION = {"chat": "chat", "embeddings": "embeddings"}
_PARAM_ATTRIBUTES = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "seed": "gen_ai.request.seed",
}


def traces_url(endpoint: str) -> str:
    """``http://collector:4318`` → ``http://collector:4318/v1/traces`` (a full URL is kept)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def provider_of(model: str | None) -> str:
    """The provider a LiteLLM model id goes to: its prefix (``openai/gpt-4o`` → openai)."""
    if not model:
        return "unknown"
    if model == "echo":
        return "harness"
    if "/" in model:
        return model.split("/", 1)[0]
    try:
        from harness.llm._litellm import litellm

        return litellm().get_llm_provider(model)[1]
    except Exception:  # noqa: BLE001 - an unknown bare name
        return "unknown"


def span_attributes(t: Trace) -> dict[str, Any]:
    """The span's attributes: gen_ai.* conventions plus harness.* for what they lack."""
    op = OPERATION.get(t.kind, t.kind)
    provider = provider_of(t.model_answered or t.model_requested)
    a: dict[str, Any] = {
        "gen_ai.operation.name": op,
        "gen_ai.system": provider,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": t.model_requested,
        "harness.source": t.source,
        "harness.latency_ms": float(t.latency_ms),
        "http.response.status_code": int(t.status),
    }
    if t.model_answered:
        a["gen_ai.response.model"] = t.model_answered
    if t.prompt_tokens is not None:
        a["gen_ai.usage.input_tokens"] = int(t.prompt_tokens)
    if t.completion_tokens is not None:
        a["gen_ai.usage.output_tokens"] = int(t.completion_tokens)
    if t.finish_reason:
        a["gen_ai.response.finish_reasons"] = [t.finish_reason]
    for name, attr in _PARAM_ATTRIBUTES.items():
        v = (t.params or {}).get(name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            a[attr] = v
    if t.ttft_ms is not None:
        a["gen_ai.response.time_to_first_chunk"] = t.ttft_ms / 1000
    optional = {"harness.cost_usd": t.cost_usd, "harness.application": t.application,
                "harness.prompt_id": t.prompt_id, "harness.prompt_version": t.prompt_version,
                "harness.run_id": t.run_id, "harness.key_name": t.key_name,
                "harness.attempts": t.attempts, "harness.pii_action": t.pii_action,
                "harness.trace_id": str(t.id)}
    a.update({k: v for k, v in optional.items() if v is not None})
    if t.stream:
        a["harness.stream"] = True
    if t.cached:
        a["harness.cached"] = True
    if t.status >= 400:
        a["error.type"] = str(t.status)
    return a


class OtlpExporter:
    """Turns traces into CLIENT spans named ``{operation} {model}`` and exports them."""

    def __init__(self, endpoint: str, *, service_name: str = "harness",
                 timeout_s: float = 10.0, schedule_delay_ms: int = 1000) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.endpoint = traces_url(endpoint)
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=self.endpoint, timeout=timeout_s),
            schedule_delay_millis=schedule_delay_ms))
        self.tracer = self.provider.get_tracer("harness.tracing")

    def export(self, batch: list[Trace]) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        for t in batch:
            start = int(t.created_at.timestamp() * 1e9)
            end = start + int(t.latency_ms * 1e6)
            span = self.tracer.start_span(
                f"{OPERATION.get(t.kind, t.kind)} {t.model_requested}", kind=SpanKind.CLIENT,
                start_time=start, attributes=span_attributes(t))
            if t.status >= 400:
                span.set_status(Status(StatusCode.ERROR, (t.error or "")[:500]))
            span.end(end_time=end)

    def force_flush(self, timeout_s: float = 10.0) -> bool:
        return self.provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        self.provider.shutdown()


def exporter_from_settings(endpoint: str | None, service_name: str) -> OtlpExporter | None:
    """The exporter when an endpoint is set, else None (export is off by default)."""
    if not endpoint:
        return None
    return OtlpExporter(endpoint, service_name=service_name)
