"""Span attributes, as pure functions: the OpenTelemetry GenAI semantic conventions
(``gen_ai.*``), plus the names Langfuse maps (``langfuse.*``, ``user.id``, ``session.id``)
and OpenInference's (``openinference.span.kind``, ``input.value``, ``llm.*``) that Arize
Phoenix renders. harness's own facts keep their ``harness.*`` names.

Message text goes out per the content setting (``HARNESS_OTEL_CONTENT``): ``off`` (no
text at all), ``masked`` (personal data replaced, :func:`harness.pii.mask`; the default)
or ``full``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import orjson

from .record import Trace

ContentMode = Literal["off", "masked", "full"]
CONTENT_MODES: tuple[str, ...] = ("off", "masked", "full")
MAX_TEXT = 32_768  # characters of one text attribute; longer text is cut with a marker
MAX_FLAT_MESSAGES = 32  # llm.input_messages.{i}.* attributes for at most this many

OPERATION = {"chat": "chat", "embeddings": "embeddings"}
_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "seed": "gen_ai.request.seed",
}
# OpenInference span kinds (openinference.span.kind) and Langfuse observation types
SPAN_KIND = {"chat": "LLM", "embeddings": "EMBEDDING"}
OBSERVATION_TYPE = {"chat": "generation", "embeddings": "embedding"}


# ---------------------------------------------------------------------- content
def text_for_export(text: str | None, mode: ContentMode) -> str | None:
    """``text`` as the content setting lets it out (None for ``off``), cut at
    :data:`MAX_TEXT` characters."""
    if text is None or mode == "off":
        return None
    if mode == "masked":
        from harness import pii

        text = pii.mask(text).text
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"… [{len(text) - MAX_TEXT} more characters]"
    return text


def _text_of(content: Any) -> str | None:
    """The text of an OpenAI message content: a string, or the text parts of a list."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)
                 and p.get("type") == "text" and isinstance(p.get("text"), str)]
        return "\n".join(texts) if texts else None
    return orjson.dumps(content, default=str).decode()


def _parts(message: Mapping[str, Any], text: Callable[[Any], str | None]) -> list[dict]:
    """One OpenAI chat message's GenAI ``parts`` (text, tool calls, tool results)."""
    parts: list[dict[str, Any]] = []
    body = text(_text_of(message.get("content")))
    if message.get("role") == "tool":
        parts.append({"type": "tool_call_response", "id": message.get("tool_call_id"),
                      "result": body})
    elif body is not None:
        parts.append({"type": "text", "content": body})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {} if isinstance(call, dict) else {}
        parts.append({"type": "tool_call", "id": call.get("id") if isinstance(call, dict)
                      else None, "name": fn.get("name"), "arguments": fn.get("arguments")})
    return parts


def genai_messages(messages: Iterable[Any], mode: ContentMode) -> list[dict[str, Any]]:
    """OpenAI chat messages in the GenAI conventions' shape (``gen_ai.input.messages``):
    ``[{"role": ..., "parts": [{"type": "text", "content": ...}]}]``."""
    def text(t: Any) -> str | None:
        return text_for_export(t, mode)

    return [{"role": str(m.get("role") or "user"), "parts": _parts(m, text)}
            for m in messages if isinstance(m, dict)]


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


# ---------------------------------------------------------------------- LLM call spans
def llm_span_name(t: Trace) -> str:
    """``{gen_ai.operation.name} {gen_ai.request.model}``, as the conventions name it."""
    return f"{OPERATION.get(t.kind, t.kind)} {t.model_requested}"


def _request_attributes(t: Trace, provider: str) -> dict[str, Any]:
    a: dict[str, Any] = {
        "gen_ai.operation.name": OPERATION.get(t.kind, t.kind),
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,  # the older name, still read by many backends
        "gen_ai.request.model": t.model_requested,
    }
    for name, attr in _REQUEST_PARAMS.items():
        v = (t.params or {}).get(name)
        if isinstance(v, int | float) and not isinstance(v, bool):
            a[attr] = v
    stop = (t.params or {}).get("stop")
    if stop:
        a["gen_ai.request.stop_sequences"] = [stop] if isinstance(stop, str) else \
            [str(s) for s in stop]
    if t.stream:
        a["gen_ai.request.stream"] = True
    return a


def _response_attributes(t: Trace) -> dict[str, Any]:
    a: dict[str, Any] = {}
    if t.model_answered:
        a["gen_ai.response.model"] = t.model_answered
    if t.prompt_tokens is not None:
        a["gen_ai.usage.input_tokens"] = int(t.prompt_tokens)
    if t.completion_tokens is not None:
        a["gen_ai.usage.output_tokens"] = int(t.completion_tokens)
    if t.finish_reason:
        a["gen_ai.response.finish_reasons"] = [t.finish_reason]
    if t.ttft_ms is not None and t.stream:
        a["gen_ai.response.time_to_first_chunk"] = t.ttft_ms / 1000
    if t.status >= 400:
        a["error.type"] = str(t.status)
    return a


def _harness_attributes(t: Trace) -> dict[str, Any]:
    optional = {"harness.cost_usd": t.cost_usd, "harness.application": t.application,
                "harness.prompt_id": t.prompt_id, "harness.prompt_version": t.prompt_version,
                "harness.prompt_name": t.prompt_name, "harness.run_id": t.run_id,
                "harness.key_name": t.key_name, "harness.attempts": t.attempts,
                "harness.pii_action": t.pii_action, "harness.purpose": t.purpose,
                "harness.variant": t.variant,
                "harness.trace_id": str(t.id)}
    a: dict[str, Any] = {"harness.source": t.source, "harness.latency_ms": float(t.latency_ms),
                         "http.response.status_code": int(t.status)}
    a.update({k: v for k, v in optional.items() if v is not None})
    if t.prompt_references:  # a composed prompt: the versions its references resolved to
        a["harness.prompt_references"] = [
            f"{r.get('prompt_name')} v{r.get('version')}" for r in t.prompt_references]
    if t.stream:
        a["harness.stream"] = True
    if t.cached:
        a["harness.cached"] = True
    return a


def _usage(t: Trace) -> dict[str, int]:
    usage = {"input": t.prompt_tokens, "output": t.completion_tokens}
    usage = {k: int(v) for k, v in usage.items() if v is not None}
    if usage:
        usage["total"] = sum(usage.values())
    return usage


def _langfuse_attributes(t: Trace) -> dict[str, Any]:
    """What Langfuse's OTLP endpoint reads into a generation (model, usage, cost, the
    prompt it links by name and version, user and session)."""
    a: dict[str, Any] = {
        "langfuse.observation.type": OBSERVATION_TYPE.get(t.kind, "span"),
        "langfuse.observation.model.name": t.model_answered or t.model_requested,
    }
    if t.params:
        a["langfuse.observation.model.parameters"] = _json(t.params)
    usage = _usage(t)
    if usage:
        a["langfuse.observation.usage_details"] = _json(usage)
    if t.cost_usd is not None:
        a["langfuse.observation.cost_details"] = _json({"total": t.cost_usd})
    if t.prompt_name and t.prompt_version is not None:
        a["langfuse.observation.prompt.name"] = t.prompt_name
        a["langfuse.observation.prompt.version"] = int(t.prompt_version)
    if t.status >= 400:
        a["langfuse.observation.level"] = "ERROR"
        if t.error:
            a["langfuse.observation.status_message"] = t.error[:1000]
    if t.user_id:
        a["user.id"] = t.user_id
    if t.session_id:
        a["session.id"] = t.session_id
    return a


def _openinference_attributes(t: Trace, provider: str) -> dict[str, Any]:
    a: dict[str, Any] = {
        "openinference.span.kind": SPAN_KIND.get(t.kind, "LLM"),
        "llm.model_name": t.model_answered or t.model_requested,
        "llm.provider": provider,
        "llm.system": provider,
    }
    if t.params:
        a["llm.invocation_parameters"] = _json(t.params)
    if t.prompt_tokens is not None:
        a["llm.token_count.prompt"] = int(t.prompt_tokens)
    if t.completion_tokens is not None:
        a["llm.token_count.completion"] = int(t.completion_tokens)
    if t.prompt_tokens is not None or t.completion_tokens is not None:
        a["llm.token_count.total"] = int(t.prompt_tokens or 0) + int(t.completion_tokens or 0)
    if t.cost_usd is not None:
        a["llm.cost.total"] = float(t.cost_usd)
    if t.prompt_name and t.prompt_version is not None:
        a["llm.prompt_template.version"] = str(t.prompt_version)
    return a


def _request_messages(t: Trace) -> list[dict[str, Any]] | None:
    req = t.request
    messages = req.get("messages") if isinstance(req, dict) else None
    return messages if isinstance(messages, list) else None


def _response_text(t: Trace) -> str | None:
    resp = t.response
    content = resp.get("content") if isinstance(resp, dict) else None
    return content if isinstance(content, str) else None


def content_attributes(t: Trace, mode: ContentMode) -> dict[str, Any]:
    """The call's input messages and output text, under every name a backend reads:
    ``gen_ai.input.messages``/``gen_ai.output.messages`` (JSON), OpenInference's
    ``input.value``/``output.value`` and flattened ``llm.*_messages``, Langfuse's
    ``langfuse.observation.input``/``output``. Nothing when ``mode`` is ``off``."""
    if mode == "off":
        return {}
    a: dict[str, Any] = {}
    messages = _request_messages(t)
    if messages is not None:
        genai = genai_messages(messages, mode)
        a["gen_ai.input.messages"] = a["langfuse.observation.input"] = \
            a["input.value"] = _json(genai)
        a["input.mime_type"] = "application/json"
        for i, m in enumerate(genai[:MAX_FLAT_MESSAGES]):
            a[f"llm.input_messages.{i}.message.role"] = m["role"]
            text = "\n".join(p["content"] for p in m["parts"]
                             if p.get("type") == "text" and p.get("content") is not None)
            a[f"llm.input_messages.{i}.message.content"] = text
    output = text_for_export(_response_text(t), mode)
    if output is not None:
        out_message = {"role": "assistant", "parts": [{"type": "text", "content": output}]}
        if t.finish_reason:
            out_message["finish_reason"] = t.finish_reason
        a["gen_ai.output.messages"] = _json([out_message])
        a["output.value"] = a["langfuse.observation.output"] = output
        a["output.mime_type"] = "text/plain"
        a["llm.output_messages.0.message.role"] = "assistant"
        a["llm.output_messages.0.message.content"] = output
    return a


def llm_span_attributes(t: Trace, provider: str, mode: ContentMode = "masked"
                        ) -> dict[str, Any]:
    """Every attribute of one LLM call's span (``provider``: :func:`provider_of`)."""
    return {**_request_attributes(t, provider), **_response_attributes(t),
            **_langfuse_attributes(t), **_openinference_attributes(t, provider),
            **content_attributes(t, mode), **_harness_attributes(t)}


# ---------------------------------------------------------------------- workflow spans
def io_attributes(input_value: Any = None, output_value: Any = None, *,
                  mode: ContentMode = "masked") -> dict[str, Any]:
    """A workflow span's input and output (a text, or a value sent as JSON) for Phoenix
    (``input.value``) and Langfuse (``langfuse.observation.input``)."""
    a: dict[str, Any] = {}
    for side, value in (("input", input_value), ("output", output_value)):
        if value is None:
            continue
        is_text = isinstance(value, str)
        text = text_for_export(value if is_text else _json(value), mode)
        if text is None:
            continue
        a[f"{side}.value"] = a[f"langfuse.observation.{side}"] = text
        a[f"{side}.mime_type"] = "text/plain" if is_text else "application/json"
    return a


def workflow_attributes(kind: str, *, observation: str = "chain",
                        session_id: str | None = None, user_id: str | None = None,
                        trace_name: str | None = None, **harness: Any) -> dict[str, Any]:
    """A run's, a case's or a request's span: ``kind`` is its OpenInference span kind
    (CHAIN, EVALUATOR, ...), ``observation`` its Langfuse observation type, ``harness``
    its own facts (``run_id=...`` → ``harness.run_id``), None values left out."""
    a: dict[str, Any] = {"openinference.span.kind": kind,
                         "langfuse.observation.type": observation}
    if session_id:
        a["session.id"] = session_id
    if user_id:
        a["user.id"] = user_id
    if trace_name:
        a["langfuse.trace.name"] = trace_name
    for key, value in harness.items():
        if value is not None:
            a[f"harness.{key}"] = value if isinstance(value, str | bool | int | float) \
                else _json(value)
    return a


def resource_attributes(service_name: str, *, version: str, project: str,
                        environment: str | None = None) -> dict[str, Any]:
    """The resource every span of a process shares: the service and its version, the
    Phoenix project (``openinference.project.name``), the deployment environment (Langfuse
    reads it as the trace's environment)."""
    a = {"service.name": service_name, "service.version": version,
         "service.namespace": "harness", "openinference.project.name": project}
    if environment:
        a["deployment.environment.name"] = environment
    return a
