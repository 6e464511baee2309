"""OpenTelemetry export of traces (OTLP/HTTP, protobuf), so Langfuse, Phoenix or any
collector receives them. Off unless an endpoint is configured (``HARNESS_OTLP_ENDPOINT``);
headers (e.g. auth) come from ``OTEL_EXPORTER_OTLP_HEADERS``.

Each LLM call becomes a CLIENT span built from its finished trace, with its real start and
end times, as a child of the span that was current when the call was made (a run's case,
a gateway request: :mod:`harness.tracing.spans`); what it carries is
:mod:`harness.tracing.semconv`'s. The SDK's batch processor sends spans from its own
thread.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .record import Trace
from .semconv import CONTENT_MODES, ContentMode, llm_span_attributes, llm_span_name
from .semconv import resource_attributes as _resource_attributes
from .spans import PRESET_IDS, WorkflowSpans


def traces_url(endpoint: str) -> str:
    """``http://collector:4318`` → ``http://collector:4318/v1/traces`` (a full URL is kept)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


@lru_cache(maxsize=512)
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


def span_attributes(t: Trace, content: ContentMode = "masked") -> dict[str, Any]:
    """The span's attributes (:func:`harness.tracing.semconv.llm_span_attributes`);
    bodies already masked for storage are not masked again."""
    if content == "masked" and t.bodies_masked:
        content = "full"
    return llm_span_attributes(t, provider_of(t.model_answered or t.model_requested), content)


def harness_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("harness")
    except PackageNotFoundError:
        return "0+unknown"


def resource_attributes(service_name: str, project: str | None = None,
                        environment: str | None = None) -> dict[str, Any]:
    """The resource of ``service_name``'s spans: its version, the Phoenix project and the
    environment from the settings (``HARNESS_OTEL_PROJECT``, ``HARNESS_OTEL_ENVIRONMENT``)
    unless given."""
    from harness.config import get_settings

    s = get_settings()
    return _resource_attributes(service_name, version=harness_version(),
                                project=project or s.otel_project,
                                environment=environment or s.otel_environment)


def _id_generator():
    """Random ids, except for a span started with ids of its own (a run's span, whose ids
    its ``RunRequested`` carries: :data:`harness.tracing.spans.PRESET_IDS`)."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class PresetIdGenerator(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            preset = PRESET_IDS.get()
            return preset[0] if preset else super().generate_trace_id()

        def generate_span_id(self) -> int:
            preset = PRESET_IDS.get()
            return preset[1] if preset else super().generate_span_id()

    return PresetIdGenerator()


class OtlpExporter:
    """Turns traces into CLIENT spans named ``{operation} {model}`` and exports them; its
    :attr:`spans` make the workflow spans (run, case, request) in the same provider.

    ``content``: ``off`` | ``masked`` | ``full`` (default: ``HARNESS_OTEL_CONTENT``)."""

    def __init__(self, endpoint: str, *, service_name: str = "harness",
                 timeout_s: float = 10.0, schedule_delay_ms: int = 1000,
                 content: ContentMode | None = None, project: str | None = None,
                 environment: str | None = None) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from harness.config import get_settings

        self.content: ContentMode = content or get_settings().otel_content
        if self.content not in CONTENT_MODES:
            raise ValueError(f"content must be one of {CONTENT_MODES}, not {self.content!r}")
        self.endpoint = traces_url(endpoint)
        self.service_name = service_name
        self.provider = TracerProvider(resource=Resource.create(
            resource_attributes(service_name, project, environment)),
            id_generator=_id_generator())
        self.provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=self.endpoint, timeout=timeout_s),
            schedule_delay_millis=schedule_delay_ms))
        self.tracer = self.provider.get_tracer("harness.tracing", harness_version())
        self.spans = WorkflowSpans(self.tracer, self.content)

    @property
    def wants_unmasked(self) -> bool:
        """Export before the stored bodies are masked (``full`` content)."""
        return self.content == "full"

    def export(self, batch: list[Trace]) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        for t in batch:
            start = int(t.created_at.timestamp() * 1e9)
            end = start + int(t.latency_ms * 1e6)
            parent = trace.set_span_in_context(trace.NonRecordingSpan(t.parent)) \
                if t.parent is not None else None
            span = self.tracer.start_span(
                llm_span_name(t), context=parent, kind=SpanKind.CLIENT, start_time=start,
                attributes=span_attributes(t, self.content))
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
