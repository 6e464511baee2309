"""Gateway errors: what a request the model cannot serve does (a 4xx, no retry, no
cooldown), what only provider health failures do (a cooldown of that deployment), and
the OpenAI error envelope on every ``/v1`` error, read through the real ``openai`` SDK."""

from __future__ import annotations

import openai
import pytest

from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.stub_llm import StubLLM

HI = [{"role": "user", "content": "hi"}]
ENVELOPE_KEYS = {"message", "type", "param", "code"}


@pytest.fixture
async def stub():
    async with StubLLM() as s:
        yield s


@pytest.fixture
async def gw(runtime, stub, monkeypatch):
    """``openai/nokey`` is deployed without an api_key and no OPENAI_API_KEY is set."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = GatewaySettings(
        aliases={"smart": ["openai/primary", "openai/backup"],
                 "mixed": ["openai/nokey", "openai/backup"],
                 "lonely": ["openai/nokey"]},
        deployments={"openai/nokey": {"api_base": stub.base_url},
                     "*": {"api_base": stub.base_url, "api_key": "sk-test"}},
        num_retries=2, timeout_s=5, cooldown_s=30, allowed_fails=1, trace_flush_s=0.05)
    async with serve_gateway(runtime, settings) as served:
        yield served


def _assert_envelope(body: dict) -> dict:
    err = body["error"]
    assert ENVELOPE_KEYS <= set(err), body
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and err["type"]
    return err


# ---------------------------------------------------------------- item 1: no cooldown
async def test_embeddings_on_echo_is_a_4xx_and_echo_keeps_answering_everyone(gw, stub):
    a, b = gw.sdk(await gw.key("a")), gw.sdk(await gw.key("b"))
    with pytest.raises(openai.BadRequestError) as ei:
        await a.embeddings.create(model="echo", input=["x"])
    assert "echo" in ei.value.message and "embeddings" in ei.value.message
    assert ei.value.code == "unsupported-operation"
    assert "credentials" not in ei.value.message.lower()
    for client in (a, b, a):
        r = await client.chat.completions.create(model="echo", messages=HI)
        assert r.choices[0].message.content == "hi"
    assert gw.gateway.router.cooldowns == {}
    assert stub.requests == []


async def test_missing_credentials_is_a_configuration_error_never_retried_or_cooled(gw, stub):
    client = gw.sdk(await gw.key())
    for _ in range(2):  # the second call is not "cooling down"
        with pytest.raises(openai.UnprocessableEntityError) as ei:
            await client.chat.completions.create(model="openai/nokey", messages=HI)
        err = ei.value
        assert err.code == "missing-credentials" and err.type == "configuration_error"
        assert "openai/nokey" in err.message and "OPENAI_API_KEY" in err.message
    with pytest.raises(openai.UnprocessableEntityError):
        await client.embeddings.create(model="openai/nokey", input=["x"])
    with pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(model="lonely", messages=HI, stream=True)
    assert stub.requests == []  # refused before any call: nothing retried
    assert gw.gateway.router.cooling("openai/nokey") == 0
    # a chain falls over the unconfigured model to one that can answer
    stub.reply("backup", "from backup")
    r = await client.chat.completions.with_raw_response.create(model="mixed", messages=HI)
    assert r.parse().choices[0].message.content == "from backup"
    assert stub.models_called() == ["backup"]
    assert gw.gateway.router.cooldowns == {}


async def test_caller_errors_never_cool_a_model_down(gw, stub):
    client = gw.sdk(await gw.key())
    stub.fail_next(400, times=1, model="primary", message="bad thing")
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="smart", messages=HI)
    stub.fail_next(422, times=1, model="primary", message="unprocessable")
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="smart", messages=HI)
    # a rejected upstream key is configuration too: the chain falls back, no cooldown
    stub.fail_next(401, times=1, model="primary", message="invalid api key")
    stub.reply("backup", "from backup")
    r = await client.chat.completions.create(model="smart", messages=HI)
    assert r.model == "openai/backup"
    assert gw.gateway.router.cooldowns == {}
    stub.reset()
    r = await client.chat.completions.create(model="smart", messages=HI)
    assert r.model == "openai/primary"  # nobody was locked out of it
    assert stub.models_called() == ["primary"]


async def test_only_health_failures_cool_down_and_only_that_deployment(gw, stub):
    client = gw.sdk(await gw.key())
    stub.fail_next(503, times=3, model="primary")
    stub.reply("backup", "from backup")
    r = await client.chat.completions.create(model="smart", messages=HI)
    assert r.model == "openai/backup"
    assert stub.models_called() == ["primary"] * 3 + ["backup"]  # 2 retries, then fallback
    assert set(gw.gateway.router.cooldowns) == {"openai/primary"}
    # other models, echo among them, are untouched
    r = await client.chat.completions.create(model="echo", messages=HI)
    assert r.choices[0].message.content == "hi"
    r = await client.chat.completions.create(model="openai/backup", messages=HI)
    assert r.model == "openai/backup"


# ---------------------------------------------------------------- item 7: the envelope
async def test_application_without_its_variables_gives_the_sdk_a_message(gw, stub):
    client = gw.sdk(await gw.key())
    async with gw.http() as h:
        p = (await h.post("/prompts", json={"name": "greet-prompt",
                                            "content": "Hello {{ name }} from {{ city }}"}))
        r = await h.post("/applications", json={"name": "greet", "model_id": "echo",
                                                 "prompt_id": p.json()["id"]})
        assert r.status_code == 201, r.text
    with pytest.raises(openai.UnprocessableEntityError) as ei:
        await client.chat.completions.create(model="app/greet", messages=HI)
    err = ei.value
    assert err.code == "missing-variables" and err.param == "variables"
    assert err.type == "invalid_request_error"
    assert "name" in err.body["message"] and "city" in err.body["message"]
    with pytest.raises(openai.NotFoundError) as ei:
        await client.chat.completions.create(model="app/nope", messages=HI)
    assert ei.value.code == "unknown-application" and "nope" in ei.value.body["message"]


async def test_every_v1_error_carries_the_openai_envelope(gw, stub, monkeypatch):
    key = await gw.key()
    auth = {"Authorization": f"Bearer {key}"}
    async with gw.http() as h:
        cases = [
            ("POST", "/v1/chat/completions", {}, None, 401),
            ("POST", "/v1/chat/completions", auth, b"{not json", 400),
            ("POST", "/v1/chat/completions", auth, b'{"model": 1}', 400),
            ("POST", "/v1/chat/completions", auth, b'{"model": "echo"}', 400),
            ("GET", "/v1/chat/completions", auth, None, 405),
            ("POST", "/v1/completions", auth, b"{}", 404),
            ("GET", "/v1/nothing-here", auth, None, 404),
            ("POST", "/v1/embeddings", auth, b'{"model": "echo", "input": []}', 400),
        ]
        for method, path, headers, content, status in cases:
            r = await h.request(method, path, headers=headers, content=content)
            assert r.status_code == status, (path, r.text)
            assert r.headers["content-type"].startswith("application/json"), r.headers
            _assert_envelope(r.json())

        async def boom(*_a, **_k):
            raise RuntimeError("something broke inside")

        monkeypatch.setattr(gw.gateway.router, "complete", boom)
        r = await h.post("/v1/chat/completions", headers=auth,
                         json={"model": "echo", "messages": HI})
        assert r.status_code == 500
        err = _assert_envelope(r.json())
        assert err["type"] == "server_error"
        assert "something broke inside" not in err["message"]  # internals stay in the log
        # the registry's own API keeps problem+json
        r = await h.get("/prompts/nope")
        assert r.headers["content-type"].startswith("application/problem+json")
    with pytest.raises(openai.InternalServerError):
        await gw.sdk(key).chat.completions.create(model="echo", messages=HI)


async def test_a_stream_that_breaks_after_its_first_token_ends_with_the_envelope(
        gw, stub, monkeypatch):
    from services.gateway.routing import Routed

    first = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "echo",
             "choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": None}]}

    async def broken():
        raise ConnectionError("provider hung up")
        yield  # an async generator

    async def stream(chain, kwargs, timeout=None):
        return Routed("echo", first, 1, stream=broken())

    monkeypatch.setattr(gw.gateway.router, "stream", stream)
    client = gw.sdk(await gw.key())
    got = []
    with pytest.raises(openai.APIError) as ei:
        async for chunk in await client.chat.completions.create(model="echo", messages=HI,
                                                                stream=True):
            got.append(chunk.choices[0].delta.content)
    assert got == ["par"]
    err = ei.value
    assert err.code == "upstream-stream" and err.type == "server_error"
    assert isinstance(err.body, dict) and ENVELOPE_KEYS <= set(err.body)
    assert "provider hung up" in err.message
