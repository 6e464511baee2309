"""OpenTelemetry export: a local HTTP receiver decodes the OTLP/HTTP protobuf requests the
gateway sends and checks the GenAI semantic-convention attributes of the spans."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.http_receiver import HttpReceiver
from tests.support.otel import decode_spans
from tests.support.stub_llm import StubLLM

PRICES = {"openai/primary": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}


@pytest.fixture
async def stub():
    async with StubLLM() as s:
        yield s


async def test_spans_carry_genai_attributes(runtime, stub):
    with HttpReceiver() as collector:
        settings = GatewaySettings(
            deployments={"*": {"api_base": stub.base_url, "api_key": "sk-test"}},
            prices=PRICES, num_retries=0, trace_flush_s=0.02, otlp_endpoint=collector.url)
        async with serve_gateway(runtime, settings) as gw:
            key = await gw.key("otel-key")
            client = gw.sdk(key)
            stub.usage("primary", 7, 3)
            await client.chat.completions.create(
                model="openai/primary", messages=[{"role": "user", "content": "hi"}],
                temperature=0.2, max_tokens=50)
            stub.fail_next(400, times=1, model="primary", message="nope")
            with pytest.raises(Exception):  # noqa: B017 - the SDK's BadRequestError
                await client.chat.completions.create(
                    model="openai/primary", messages=[{"role": "user", "content": "x"}])
            await gw.gateway.traces.flush()
            [exporter] = gw.gateway.traces.exporters
            assert await asyncio.to_thread(exporter.force_flush)
            await collector.wait_for(1)

    r = collector.requests[0]
    assert r.path == "/v1/traces" and r.headers["content-type"] == "application/x-protobuf"
    spans = decode_spans(r.body for r in collector.requests)
    assert len(spans) == 4  # per call: the request's SERVER span and its LLM CLIENT span
    ok, failed = sorted((s for s in spans if s.kind == "CLIENT"), key=lambda s: s.start_ns)
    assert ok.resource["service.name"] == "harness-gateway"
    assert ok.name == "chat openai/primary"
    a = ok.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.system"] == "openai" and a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.request.model"] == "openai/primary"
    assert a["gen_ai.response.model"] == "openai/primary"
    assert a["gen_ai.usage.input_tokens"] == 7 and a["gen_ai.usage.output_tokens"] == 3
    assert a["gen_ai.request.temperature"] == 0.2 and a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["harness.cost_usd"] == pytest.approx(7e-6 + 6e-6)
    assert a["harness.key_name"] == "otel-key" and a["harness.source"] == "gateway"
    assert ok.end_ns - ok.start_ns == pytest.approx(a["harness.latency_ms"] * 1e6, rel=0.01)
    b = failed.attributes
    assert failed.status == "ERROR" and b["error.type"] == "400"
    assert "gen_ai.response.model" not in b
    requests = {s.span_id: s for s in spans if s.kind == "SERVER"}
    assert requests[ok.parent_id].attributes["http.response.status_code"] == 200
    assert requests[failed.parent_id].attributes["http.response.status_code"] == 400
