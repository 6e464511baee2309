"""The loopback OpenAI-compatible stub server itself (streaming, models, concurrency)."""

from __future__ import annotations

import asyncio
import base64
import struct

import httpx
import pytest

from harness.llm._litellm import litellm
from tests.support.stub_llm import StubLLM


@pytest.fixture(scope="module")
def stub_server():
    """The shared ``stub`` fixture's server, listing two models."""
    with StubLLM(models=["stub-model", "gpt-4o-mini"]) as server:
        yield server


async def test_binds_loopback_on_a_free_port(stub):
    assert stub.base_url.startswith("http://127.0.0.1:")
    assert stub.base_url.endswith("/v1")
    with StubLLM() as other:
        assert other.port != stub.port


async def test_models_endpoint_lists_configured_and_scripted_models(stub):
    stub.script("scripted-model", "x")
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.get(f"{stub.base_url}/models")
    assert r.status_code == 200
    ids = [m["id"] for m in r.json()["data"]]
    assert {"stub-model", "gpt-4o-mini", "scripted-model"} <= set(ids)


async def test_streaming_through_litellm_ends_with_usage(stub):
    stub.script("gpt-4o-mini", "one two three four")
    stream = await litellm().acompletion(
        model="openai/gpt-4o-mini", api_base=stub.base_url, api_key="sk",
        messages=[{"role": "user", "content": "count"}], stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    assert "".join(pieces) == "one two three four"
    assert len(pieces) == 4
    assert usage.completion_tokens == 4 and usage.prompt_tokens == 4


async def test_raw_sse_format(stub):
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{stub.base_url}/chat/completions", json={
            "model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}]})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"usage"' in events[-2]


async def test_reply_function_sees_the_request(stub):
    stub.reply("fn-model", lambda body: f"{len(body['messages'])} messages")
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{stub.base_url}/chat/completions", json={
            "model": "fn-model",
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]})
    assert r.json()["choices"][0]["message"]["content"] == "2 messages"


async def test_failures_are_openai_shaped_and_model_scoped(stub):
    stub.quota_next(times=1, model="a")
    async with httpx.AsyncClient(timeout=60) as http:
        ok = await http.post(f"{stub.base_url}/chat/completions", json={
            "model": "b", "messages": [{"role": "user", "content": "hi"}]})
        bad = await http.post(f"{stub.base_url}/chat/completions", json={
            "model": "a", "messages": [{"role": "user", "content": "hi"}]})
        again = await http.post(f"{stub.base_url}/chat/completions", json={
            "model": "a", "messages": [{"role": "user", "content": "hi"}]})
    assert ok.status_code == 200 and again.status_code == 200
    assert bad.status_code == 429
    assert bad.json()["error"]["code"] == "insufficient_quota"
    assert [r.model for r in stub.chat_requests] == ["b", "a", "a"]


async def test_base64_embeddings(stub):
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.post(f"{stub.base_url}/embeddings", json={
            "model": "e", "input": "hello", "encoding_format": "base64", "dimensions": 8})
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    assert len(struct.unpack("<8f", raw)) == 8


async def test_latency_does_not_serialize_concurrent_requests(stub):
    """Overlap, not wall-clock time: all 60 requests are in the stub at once (it holds
    each answer until they are), which a serializing server could never reach."""
    stub.latency_s = 0.2
    stub.hold_until_in_flight(60)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100),
                                 timeout=120) as http:
        responses = await asyncio.gather(*[
            http.post(f"{stub.base_url}/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": f"n{i}"}]})
            for i in range(60)
        ])
    assert all(r.status_code == 200 for r in responses)
    assert stub.max_in_flight == 60


async def test_async_context_manager():
    async with StubLLM(default_reply="fixed") as stub:
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(f"{stub.base_url}/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": "hi"}]})
        assert r.json()["choices"][0]["message"]["content"] == "fixed"
