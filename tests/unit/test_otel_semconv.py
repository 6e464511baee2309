"""The span attributes (harness.tracing.semconv): GenAI semantic conventions, the names
Langfuse maps and OpenInference's, content off/masked/full; trace ids in log lines."""

from __future__ import annotations

import io
import json

import pytest

from harness.tracing import Trace, trace_of_call
from harness.tracing.otlp import span_attributes
from harness.tracing.semconv import (
    MAX_TEXT,
    genai_messages,
    io_attributes,
    llm_span_attributes,
    llm_span_name,
    resource_attributes,
    text_for_export,
    workflow_attributes,
)

MESSAGES = [{"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": "Mail me at kim@example.com"}]


def _trace(**kw) -> Trace:
    base = dict(kind="chat", model_requested="openai/gpt-4o-mini", status=200,
                latency_ms=120.0, model_answered="openai/gpt-4o-mini", prompt_tokens=11,
                completion_tokens=4, cost_usd=2.5e-5, finish_reason="stop",
                params={"temperature": 0.2, "max_tokens": 64, "stop": ["\n"]},
                prompt_id="p-1", prompt_name="support-reply", prompt_version=3,
                run_id="r-1", session_id="r-1", user_id="u-7", purpose="case",
                request={"messages": MESSAGES, "params": {"temperature": 0.2}},
                response={"content": "Sure, kim@example.com it is.", "finish_reason": "stop"})
    base.update(kw)
    return Trace(**base)


def test_llm_span_is_named_and_attributed_per_the_genai_conventions():
    t = _trace()
    a = llm_span_attributes(t, "openai", "full")
    assert llm_span_name(t) == "chat openai/gpt-4o-mini"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == "openai/gpt-4o-mini"
    assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 64
    assert a["gen_ai.request.stop_sequences"] == ["\n"]
    assert a["gen_ai.usage.input_tokens"] == 11 and a["gen_ai.usage.output_tokens"] == 4
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert "error.type" not in a and "gen_ai.request.stream" not in a
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "You answer briefly."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Mail me at kim@example.com"}]}]
    assert json.loads(a["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text",
                                         "content": "Sure, kim@example.com it is."}],
         "finish_reason": "stop"}]


def test_llm_span_carries_what_langfuse_maps():
    a = llm_span_attributes(_trace(), "openai", "full")
    assert a["langfuse.observation.type"] == "generation"
    assert a["langfuse.observation.model.name"] == "openai/gpt-4o-mini"
    assert json.loads(a["langfuse.observation.usage_details"]) == {
        "input": 11, "output": 4, "total": 15}
    assert json.loads(a["langfuse.observation.cost_details"]) == {"total": 2.5e-5}
    assert a["langfuse.observation.prompt.name"] == "support-reply"
    assert a["langfuse.observation.prompt.version"] == 3
    assert json.loads(a["langfuse.observation.model.parameters"])["temperature"] == 0.2
    assert a["user.id"] == "u-7" and a["session.id"] == "r-1"
    assert json.loads(a["langfuse.observation.input"])[1]["role"] == "user"
    assert a["langfuse.observation.output"] == "Sure, kim@example.com it is."


def test_llm_span_carries_what_phoenix_renders():
    a = llm_span_attributes(_trace(), "openai", "full")
    assert a["openinference.span.kind"] == "LLM"
    assert a["llm.model_name"] == "openai/gpt-4o-mini" and a["llm.provider"] == "openai"
    assert a["llm.token_count.prompt"] == 11 and a["llm.token_count.completion"] == 4
    assert a["llm.token_count.total"] == 15 and a["llm.cost.total"] == 2.5e-5
    assert json.loads(a["llm.invocation_parameters"])["max_tokens"] == 64
    assert a["input.mime_type"] == "application/json"
    assert a["llm.input_messages.1.message.role"] == "user"
    assert a["llm.input_messages.1.message.content"] == "Mail me at kim@example.com"
    assert a["output.value"] == a["llm.output_messages.0.message.content"]
    assert a["llm.prompt_template.version"] == "3"
    assert a["harness.prompt_version"] == 3 and a["harness.purpose"] == "case"


def test_content_masked_by_default_and_off_leaves_no_text():
    masked = span_attributes(_trace())
    text = json.dumps({k: v for k, v in masked.items() if isinstance(v, str)})
    assert "kim@example.com" not in text and "[EMAIL]" in masked["output.value"]
    off = llm_span_attributes(_trace(), "openai", "off")
    assert not any(k in off for k in ("input.value", "output.value", "gen_ai.input.messages",
                                      "langfuse.observation.input", "llm.input_messages.0."
                                      "message.content"))
    assert off["gen_ai.usage.input_tokens"] == 11  # everything else stays


def test_bodies_masked_for_storage_are_not_masked_twice():
    t = _trace(response={"content": "[EMAIL] it is."}, bodies_masked=True)
    assert span_attributes(t, "masked")["output.value"] == "[EMAIL] it is."


def test_long_text_is_cut_and_says_how_much():
    out = text_for_export("x" * (MAX_TEXT + 5), "full")
    assert out.startswith("x" * MAX_TEXT) and out.endswith("[5 more characters]")


def test_tool_calls_and_parts_become_genai_parts():
    messages = [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                             {"type": "image_url", "image_url": {}}]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "function": {"name": "f", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}]
    assert genai_messages(messages, "full") == [
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "f",
                                         "arguments": "{}"}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1",
                                    "result": "42"}]}]


def test_a_failed_call_and_an_embedding():
    failed = llm_span_attributes(_trace(status=429, error="rate limited", model_answered=None,
                                        completion_tokens=None, cost_usd=None), "openai")
    assert failed["error.type"] == "429" and failed["langfuse.observation.level"] == "ERROR"
    assert failed["langfuse.observation.status_message"] == "rate limited"
    assert "gen_ai.response.model" not in failed and "llm.cost.total" not in failed
    emb = llm_span_attributes(Trace(kind="embeddings", model_requested="m", status=200,
                                    latency_ms=1, prompt_tokens=3), "openai")
    assert emb["openinference.span.kind"] == "EMBEDDING"
    assert emb["langfuse.observation.type"] == "embedding"
    assert emb["gen_ai.operation.name"] == "embeddings"


def test_a_runner_call_keeps_prompt_name_purpose_and_the_run_as_session():
    from datetime import UTC, datetime

    from harness.llm import LLMCall, LLMRequest, LLMResponse

    req = LLMRequest(model="echo", messages=MESSAGES, labels={
        "run_id": "r-9", "prompt_name": "qa", "prompt_version": 2, "purpose": "judge"})
    call = LLMCall(req, datetime.now(UTC), 3.0,
                   response=LLMResponse(output="ok", model="echo", latency_ms=3.0))
    t = trace_of_call(call)
    assert (t.prompt_name, t.prompt_version, t.purpose, t.session_id) == ("qa", 2, "judge",
                                                                          "r-9")


def test_workflow_span_and_resource_attributes():
    a = workflow_attributes("EVALUATOR", observation="evaluator", session_id="r-1",
                            trace_name="scoring run", run_id="r-1", case_id="c-1",
                            metrics=["faithfulness"], missing=None)
    assert a == {"openinference.span.kind": "EVALUATOR",
                 "langfuse.observation.type": "evaluator", "session.id": "r-1",
                 "langfuse.trace.name": "scoring run", "harness.run_id": "r-1",
                 "harness.case_id": "c-1", "harness.metrics": '["faithfulness"]'}
    io = io_attributes({"q": "kim@example.com"}, "done", mode="masked")
    assert io["input.mime_type"] == "application/json" and "[EMAIL]" in io["input.value"]
    assert io["langfuse.observation.output"] == io["output.value"] == "done"
    assert io_attributes("x", "y", mode="off") == {}
    r = resource_attributes("harness-runner", version="1.2.3", project="evals",
                            environment="staging")
    assert r == {"service.name": "harness-runner", "service.version": "1.2.3",
                 "service.namespace": "harness", "openinference.project.name": "evals",
                 "deployment.environment.name": "staging"}


@pytest.mark.parametrize("with_project", [False, True])
def test_log_lines_carry_the_current_span_ids(with_project):
    import structlog
    from opentelemetry.sdk.trace import TracerProvider

    from harness.logging import TraceContext

    out = io.StringIO()
    before = structlog.get_config()
    structlog.configure(processors=[TraceContext("proj" if with_project else None),
                                    structlog.processors.JSONRenderer()],
                        logger_factory=structlog.PrintLoggerFactory(file=out))
    try:
        log = structlog.get_logger("t")
        log.info("outside")
        tracer = TracerProvider().get_tracer("t")
        with tracer.start_as_current_span("s") as span:
            log.info("inside")
        ctx = span.get_span_context()
    finally:
        structlog.configure(**before)
    outside, inside = (json.loads(line) for line in out.getvalue().splitlines())
    assert "trace_id" not in outside
    assert inside["trace_id"] == format(ctx.trace_id, "032x")
    assert inside["span_id"] == format(ctx.span_id, "016x")
    assert ("logging.googleapis.com/trace" in inside) is with_project
    if with_project:
        assert inside["logging.googleapis.com/trace"] == \
            f"projects/proj/traces/{inside['trace_id']}"


def test_a_split_variant_is_a_span_attribute_only_when_a_split_picked_it():
    picked = llm_span_attributes(_trace(variant="v4", prompt_version=4), "openai")
    assert picked["harness.variant"] == "v4" and picked["harness.prompt_version"] == 4
    assert "harness.variant" not in llm_span_attributes(_trace(), "openai")
