"""Traces without I/O: LLM calls to traces, span attributes, body masking, alert rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from harness.config import Settings
from harness.evaluation.execute import build_request
from harness.evaluation.models import Target
from harness.llm import LLMCall, LLMError, LLMRequest, LLMResponse
from harness.tracing import Trace, trace_of_call
from harness.tracing.otlp import provider_of, span_attributes, traces_url
from harness.tracing.writer import mask_bodies
from services.gateway.alerts import Alert, period_start, retry_delay_s
from services.gateway.config import GatewaySettings

T0 = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)


def _req(**labels) -> LLMRequest:
    return LLMRequest(model="openai/gpt-4o-mini", temperature=0.3, max_tokens=20,
                      messages=[{"role": "user", "content": "call 010-1234-5678"}],
                      params={"api_key": "sk-secret", "api_base": "http://127.0.0.1:1"},
                      labels=labels)


def test_a_runner_call_becomes_a_trace_with_its_run_and_prompt_version():
    resp = LLMResponse(output="mail a@b.co", model="openai/backup", prompt_tokens=5,
                       completion_tokens=2, cost_usd=1e-5, latency_ms=12.5, attempts=2,
                       finish_reason="stop")
    t = trace_of_call(LLMCall(_req(run_id="run-1", prompt_id="p1", prompt_version=3,
                                   purpose="case"), T0, 12.5, response=resp))
    assert (t.source, t.run_id, t.prompt_id, t.prompt_version) == ("runner", "run-1", "p1", 3)
    assert (t.model_requested, t.model_answered, t.status) == (
        "openai/gpt-4o-mini", "openai/backup", 200)
    assert (t.prompt_tokens, t.completion_tokens, t.cost_usd, t.attempts) == (5, 2, 1e-5, 2)
    assert t.created_at == T0 and t.params == {"temperature": 0.3, "max_tokens": 20}
    assert "sk-secret" not in repr(t.request)  # credentials are never stored
    assert t.mask_bodies
    mask_bodies(t)
    assert "010-1234-5678" not in repr(t.request) and "a@b.co" not in repr(t.response)
    assert not t.mask_bodies


def test_a_run_case_on_an_application_is_traced_with_the_application_name():
    target = Target(target_id="t0", label="bot · openai/m", prompt_id="p1", prompt_name="p",
                    prompt_version=2, application_id="a1", application_name="support-bot",
                    content="hi", model="openai/m")
    req = build_request(target, [{"role": "user", "content": "hi"}], repeat=0, cache=None,
                        run_id="run-1")
    resp = LLMResponse(output="ok", model="openai/m", latency_ms=1.0)
    t = trace_of_call(LLMCall(req, T0, 1.0, response=resp))
    assert (t.application, t.prompt_version, t.run_id) == ("support-bot", 2, "run-1")
    plain = build_request(target.model_copy(update={"application_id": None,
                                                    "application_name": None}),
                          [{"role": "user", "content": "hi"}], repeat=0, cache=None)
    assert "application" not in plain.labels


def test_a_cache_hit_is_traced_without_spend():
    resp = LLMResponse(output="x", model="openai/gpt-4o-mini", prompt_tokens=5,
                       completion_tokens=2, cost_usd=1e-5, latency_ms=0.3, attempts=0,
                       cached=True)
    t = trace_of_call(LLMCall(_req(run_id="r"), T0, 0.3, response=resp))
    assert t.cached and t.cost_usd == 0.0 and t.prompt_tokens == 5


def test_a_failed_call_keeps_its_status_and_error():
    err = LLMError("rate_limit", "slow down", model="openai/gpt-4o-mini", attempts=4)
    t = trace_of_call(LLMCall(_req(run_id="r"), T0, 80.0, error=err), store_bodies=False)
    assert t.status == 429 and "slow down" in t.error and t.attempts == 4
    assert t.request is None and t.response is None and t.model_answered is None
    err = LLMError("server", "boom", model="m", attempts=1, status_code=503)
    assert trace_of_call(LLMCall(_req(), T0, 1.0, error=err)).status == 503


def test_span_attributes_follow_the_genai_conventions():
    t = Trace(kind="chat", model_requested="smart", model_answered="anthropic/claude-x",
              status=200, latency_ms=30, prompt_tokens=11, completion_tokens=4,
              params={"temperature": 0, "max_tokens": 9, "stop": ["x"]}, run_id="r9",
              finish_reason="length", cost_usd=0.5)
    a = span_attributes(t)
    assert a["gen_ai.system"] == a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "smart"
    assert a["gen_ai.response.model"] == "anthropic/claude-x"
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (11, 4)
    assert a["gen_ai.request.temperature"] == 0 and a["gen_ai.request.max_tokens"] == 9
    assert a["gen_ai.response.finish_reasons"] == ["length"] and a["harness.run_id"] == "r9"
    assert "error.type" not in a and "harness.prompt_id" not in a  # unset stays unset
    failed = span_attributes(Trace(kind="embeddings", model_requested="m", status=502,
                                   latency_ms=1))
    assert failed["error.type"] == "502" and failed["gen_ai.operation.name"] == "embeddings"


def test_provider_and_endpoint_helpers():
    assert provider_of("openai/gpt-4o") == "openai" and provider_of("echo") == "harness"
    assert provider_of("gpt-4o-mini") == "openai"  # LiteLLM knows bare names
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_otlp_export_is_off_unless_the_endpoint_is_set(monkeypatch):
    monkeypatch.delenv("HARNESS_OTLP_ENDPOINT", raising=False)
    assert GatewaySettings.from_settings(Settings()).otlp_endpoint is None
    monkeypatch.setenv("HARNESS_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert GatewaySettings.from_settings(Settings()).otlp_endpoint == "http://127.0.0.1:4318"


@pytest.mark.parametrize(("period", "now", "start"), [
    ("day", T0, date(2026, 3, 31)),
    ("month", T0, date(2026, 3, 1)),
    ("day", datetime.fromisoformat("2026-04-01T08:30:00+09:00"), date(2026, 3, 31)),  # UTC
])
def test_alert_periods_are_utc_days_and_months(period, now, start):
    assert period_start(period, now) == start


def test_alert_retry_backoff_and_message():
    assert [retry_delay_s(n) for n in (1, 2, 3)] == [5, 10, 20] and retry_delay_s(50) == 600
    a = Alert(id=None, name=None, scope="app", target="bot", period="month",
              threshold_usd=5, webhook_url=None)
    text = a.message(7.25, date(2026, 3, 1))
    assert "application bot" in text and "$7.2500" in text and "2026-03" in text


def test_a_composed_prompt_exports_the_versions_its_references_resolved_to():
    t = Trace(kind="chat", model_requested="echo", status=200, latency_ms=1.0,
              prompt_id="p1", prompt_name="reply", prompt_version=2,
              prompt_references=[{"prompt_name": "support-tone", "version": 3},
                                 {"prompt_name": "signature", "version": 1}])
    a = span_attributes(t)
    assert a["harness.prompt_references"] == ["support-tone v3", "signature v1"]
    plain = Trace(kind="chat", model_requested="echo", status=200, latency_ms=1.0)
    assert "harness.prompt_references" not in span_attributes(plain)


def test_a_run_case_of_a_composed_prompt_traces_its_references():
    refs = [{"ref": "tone@staging", "prompt_id": "p2", "prompt_name": "tone", "id": "x",
             "version": 4, "environment": "staging", "referenced_by": "p1", "depth": 1}]
    target = Target(target_id="t0", label="reply v2", prompt_id="p1", prompt_name="reply",
                    prompt_version=2, content="Be kind. {{ q }}", references=refs,
                    model="echo")
    req = build_request(target, [{"role": "user", "content": "Be kind. hi"}], repeat=0,
                        cache=False, run_id="run-1")
    t = trace_of_call(LLMCall(req, T0, 1.0, response=LLMResponse(output="ok", model="echo",
                                                                latency_ms=1.0)))
    assert t.prompt_references == refs and t.wire()["prompt_references"] == refs
    plain = build_request(target.model_copy(update={"references": []}), [], repeat=0,
                          cache=False)
    assert "prompt_references" not in plain.labels
