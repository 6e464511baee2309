"""harness.llm.LLMClient against real LiteLLM and the loopback OpenAI-compatible stub."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
import uuid

import pytest
import structlog

from harness.llm import LLMClient, LLMError, LLMRequest, MemoryCache, cache_key
from harness.llm._litellm import litellm
from tests.support.stub_llm import StubLLM


@pytest.fixture
def client():
    return LLMClient(backoff_base_s=0.001, backoff_max_s=0.01)


def make_req(stub: StubLLM, model: str = "gpt-4o-mini", text: str = "Say hello to the harness",
             **kw) -> LLMRequest:
    params = {"api_base": stub.base_url, "api_key": "sk-test", **kw.pop("params", {})}
    return LLMRequest(
        model=f"openai/{model}", messages=[{"role": "user", "content": text}], params=params,
        **kw,
    )


# ---------------------------------------------------------------- success, tokens, cost
async def test_success_reports_output_tokens_and_what_was_sent(stub, client):
    req = make_req(stub, temperature=0.2, max_tokens=50, top_p=0.9,
                   params={"seed": 7, "stop": ["\n\n"]})
    resp = await client.complete(req)

    assert resp.output == "Say hello to the harness"
    assert resp.model == "openai/gpt-4o-mini"
    assert (resp.prompt_tokens, resp.completion_tokens, resp.total_tokens) == (8, 5, 13)
    assert resp.attempts == 1 and resp.cached is False
    assert resp.latency_ms > 0
    assert resp.finish_reason == "stop"

    [sent] = stub.chat_requests
    assert sent.model == "gpt-4o-mini"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["messages"] == req.messages
    assert sent.body["temperature"] == 0.2
    assert sent.body["max_tokens"] == 50
    assert sent.body["top_p"] == 0.9
    assert sent.body["seed"] == 7
    assert sent.body["stop"] == ["\n\n"]
    assert "api_key" not in sent.body and "api_base" not in sent.body


async def test_scripted_outputs_are_returned_in_order(stub, client):
    stub.script("gpt-4o-mini", "first", "second")
    assert (await client.complete(make_req(stub))).output == "first"
    assert (await client.complete(make_req(stub))).output == "second"
    assert (await client.complete(make_req(stub, text="back to echo"))).output == "back to echo"


async def test_cost_from_litellm_cost_map_for_a_priced_model(stub, client):
    stub.usage("gpt-4o-mini", prompt_tokens=1000, completion_tokens=500)
    resp = await client.complete(make_req(stub))
    entry = litellm().model_cost["gpt-4o-mini"]
    expected = 1000 * entry["input_cost_per_token"] + 500 * entry["output_cost_per_token"]
    assert resp.cost_usd == pytest.approx(expected)
    assert resp.cost_usd > 0


async def test_cost_from_prices_override(stub):
    client = LLMClient(
        backoff_base_s=0.001,
        prices={"openai/house-model": {"input_cost_per_token": 0.01,
                                       "output_cost_per_token": 0.02}},
    )
    stub.usage("house-model", prompt_tokens=10, completion_tokens=5)
    resp = await client.complete(make_req(stub, model="house-model"))
    assert resp.cost_usd == pytest.approx(10 * 0.01 + 5 * 0.02)


async def test_prices_override_wins_over_cost_map_and_matches_bare_name(stub):
    client = LLMClient(prices={"gpt-4o-mini": {"input_cost_per_token": 1.0,
                                               "output_cost_per_token": 0.0}})
    stub.usage("gpt-4o-mini", prompt_tokens=3, completion_tokens=4)
    resp = await client.complete(make_req(stub))
    assert resp.cost_usd == pytest.approx(3.0)


@pytest.mark.parametrize(
    "prefix",
    [
        "totally-unknown-stub-model",
        # LiteLLM's get_model_info answers price 0 for unmapped names matching its
        # generalization rules (any gpt-5-*): that must still be "unknown", not free.
        "gpt-5-harness-stub",
    ],
)
async def test_unknown_price_is_none_with_one_warning(stub, client, prefix):
    model = f"{prefix}-{uuid.uuid4().hex[:8]}"  # the warning is once per model per process
    with structlog.testing.capture_logs() as logs:
        first = await client.complete(make_req(stub, model=model))
        second = await client.complete(make_req(stub, model=model))
    assert first.cost_usd is None and second.cost_usd is None
    assert first.prompt_tokens is not None
    warnings = [e for e in logs if e["event"] == "llm.price_unknown"]
    assert len(warnings) == 1
    assert warnings[0]["model"] == f"openai/{model}"
    assert warnings[0]["log_level"] == "warning"


# ---------------------------------------------------------------- retries
@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_retries_transient_errors_then_succeeds(stub, client, status):
    stub.fail_next(status=status, times=2)
    resp = await client.complete(make_req(stub, max_retries=3))
    assert resp.output == "Say hello to the harness"
    assert resp.attempts == 3
    assert len(stub.chat_requests) == 3  # neither LiteLLM nor the openai SDK retried


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limit"), (500, "server"),
                                              (503, "server")])
async def test_exhausted_retries_raise_llm_error(stub, client, status, kind):
    stub.fail_next(status=status, times=10)
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub, max_retries=2))
    err = info.value
    assert err.kind == kind
    assert err.attempts == 3
    assert err.model == "openai/gpt-4o-mini"
    assert err.status_code == status
    assert "stub injected error" in err.message
    assert [h["kind"] for h in err.history] == [kind] * 3
    assert len(stub.chat_requests) == 3


async def test_max_retries_zero_makes_one_call(stub, client):
    stub.fail_next(status=500, times=5)
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub, max_retries=0))
    assert info.value.attempts == 1
    assert len(stub.chat_requests) == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, "bad_request"), (422, "bad_request"), (401, "auth"), (403, "auth"),
     (404, "not_found"), (402, "quota")],
)
async def test_non_retryable_errors_are_not_retried(stub, client, status, kind):
    stub.fail_next(status=status, times=5)
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub, max_retries=3))
    assert info.value.kind == kind
    assert info.value.attempts == 1
    assert len(stub.chat_requests) == 1


async def test_bad_request_does_not_fall_back(stub, client):
    stub.fail_next(status=400, times=5, message="Invalid value for 'messages'")
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub, fallback_models=["openai/backup"]))
    assert info.value.kind == "bad_request"
    assert stub.models_called() == ["gpt-4o-mini"]


async def test_backoff_grows_and_honours_retry_after(stub):
    client = LLMClient(backoff_base_s=0.05, backoff_max_s=2.0)
    assert 0.025 <= client._backoff(0) <= 0.05
    assert 0.1 <= client._backoff(2) <= 0.2
    assert client._backoff(10) <= 2.0
    assert client._backoff(0, retry_after_s=0.5) == pytest.approx(0.5)
    assert client._backoff(0, retry_after_s=60) == pytest.approx(2.0)

    stub.fail_next(status=429, times=1, headers={"retry-after": "0.3"})
    t0 = time.perf_counter()
    resp = await client.complete(make_req(stub))
    assert resp.attempts == 2
    assert time.perf_counter() - t0 >= 0.3


# ---------------------------------------------------------------- fallbacks
async def test_falls_back_after_primary_exhausts_retries(stub, client):
    stub.fail_next(status=429, times=100, model="primary")
    stub.reply("backup", "answer from backup")
    req = make_req(stub, model="primary", max_retries=2,
                   fallback_models=["openai/backup"])
    resp = await client.complete(req)
    assert resp.output == "answer from backup"
    assert resp.model == "openai/backup"
    assert resp.attempts == 4
    assert stub.models_called() == ["primary", "primary", "primary", "backup"]


async def test_fallback_chain_exhausted_reports_last_model(stub, client):
    stub.fail_next(status=500, times=100)
    req = make_req(stub, model="primary", max_retries=1,
                   fallback_models=["openai/second", "openai/third"])
    with pytest.raises(LLMError) as info:
        await client.complete(req)
    err = info.value
    assert err.kind == "server" and err.model == "openai/third" and err.attempts == 6
    assert [h["model"] for h in err.history] == ["openai/primary"] * 2 + [
        "openai/second"] * 2 + ["openai/third"] * 2


async def test_model_params_give_a_fallback_its_own_endpoint(stub, client):
    with StubLLM(default_reply="from the other server") as other:
        req = LLMRequest(
            model="openai/primary",
            messages=[{"role": "user", "content": "hi"}],
            params={"api_base": "http://127.0.0.1:9/v1", "api_key": "sk-a"},  # nothing there
            fallback_models=["openai/elsewhere"],
            model_params={"openai/elsewhere": {"api_base": other.base_url, "api_key": "sk-b"}},
            max_retries=0,
        )
        resp = await client.complete(req)
        assert resp.output == "from the other server"
        assert other.chat_requests[0].headers["authorization"] == "Bearer sk-b"


async def test_quota_error_falls_back_without_retrying(stub, client):
    stub.quota_next(times=100, model="primary")
    req = make_req(stub, model="primary", max_retries=3, fallback_models=["openai/backup"])
    resp = await client.complete(req)
    assert resp.model == "openai/backup"
    assert resp.attempts == 2
    assert stub.models_called() == ["primary", "backup"]


async def test_quota_error_without_fallback(stub, client):
    stub.quota_next(times=100)
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub, max_retries=3))
    assert info.value.kind == "quota"
    assert info.value.status_code == 429
    assert info.value.attempts == 1


async def test_quota_detected_from_error_code_alone(stub, client):
    stub.fail_next(429, times=5, message="request refused", code="insufficient_quota")
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub))
    assert info.value.kind == "quota" and info.value.attempts == 1


async def test_per_minute_quota_wording_is_a_rate_limit(stub, client):
    stub.fail_next(429, times=1, message="Quota exceeded for requests per minute")
    resp = await client.complete(make_req(stub))
    assert resp.attempts == 2


# ---------------------------------------------------------------- timeouts, connections
async def test_timeout_is_retried(stub, client):
    stub.stall_next(5.0, times=1)
    resp = await client.complete(make_req(stub, timeout_s=0.4, max_retries=2))
    # the stalled answer would have succeeded on the first attempt: a second attempt
    # means the client gave up on the first one at its timeout
    assert resp.attempts == 2
    assert resp.output == "Say hello to the harness"


async def test_timeouts_exhausted(stub, client):
    stub.stall_next(2.0, times=2)
    with pytest.raises(LLMError) as info:
        await client.complete(make_req(stub, timeout_s=0.3, max_retries=1))
    assert info.value.kind == "timeout"
    assert info.value.attempts == 2


async def test_connection_refused_is_a_connection_error(client):
    with StubLLM() as gone:
        base_url = gone.base_url
    req = LLMRequest(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                     params={"api_base": base_url, "api_key": "sk"}, max_retries=1)
    with pytest.raises(LLMError) as info:
        await client.complete(req)
    assert info.value.kind == "connection"
    assert info.value.attempts == 2


# ---------------------------------------------------------------- cache
async def test_temperature_zero_is_cached(stub, client):
    first = await client.complete(make_req(stub, temperature=0))
    second = await client.complete(make_req(stub, temperature=0))
    assert first.cached is False and second.cached is True
    assert second.output == first.output
    assert second.model == first.model
    assert second.prompt_tokens == first.prompt_tokens
    assert second.cost_usd == first.cost_usd
    assert second.attempts == 0
    assert len(stub.chat_requests) == 1


async def test_nonzero_temperature_is_not_cached_unless_forced(stub, client):
    await client.complete(make_req(stub, temperature=0.7))
    again = await client.complete(make_req(stub, temperature=0.7))
    assert again.cached is False
    assert len(stub.chat_requests) == 2

    await client.complete(make_req(stub, temperature=0.7, cache=True))
    forced = await client.complete(make_req(stub, temperature=0.7, cache=True))
    assert forced.cached is True
    assert len(stub.chat_requests) == 3


async def test_cache_can_be_turned_off_per_request_and_per_client(stub):
    client = LLMClient()
    await client.complete(make_req(stub, temperature=0, cache=False))
    assert (await client.complete(make_req(stub, temperature=0, cache=False))).cached is False
    off = LLMClient(cache=False)
    await off.complete(make_req(stub, temperature=0))
    assert (await off.complete(make_req(stub, temperature=0))).cached is False
    assert len(stub.chat_requests) == 4


async def test_cache_salt_separates_entries(stub, client):
    a1 = await client.complete(make_req(stub, temperature=0, cache_salt="repeat-1"))
    b1 = await client.complete(make_req(stub, temperature=0, cache_salt="repeat-2"))
    a2 = await client.complete(make_req(stub, temperature=0, cache_salt="repeat-1"))
    none = await client.complete(make_req(stub, temperature=0))
    assert (a1.cached, b1.cached, a2.cached, none.cached) == (False, False, True, False)
    assert len(stub.chat_requests) == 3


async def test_cache_is_shared_through_the_cache_object(stub):
    shared = MemoryCache()
    await LLMClient(cache=shared).complete(make_req(stub, temperature=0))
    hit = await LLMClient(cache=shared).complete(make_req(stub, temperature=0))
    assert hit.cached is True and len(shared) == 1


async def test_concurrent_identical_requests_make_one_call(stub, client):
    stub.latency_s = 0.1
    results = await asyncio.gather(
        *[client.complete(make_req(stub, temperature=0)) for _ in range(10)]
    )
    assert len(stub.chat_requests) == 1
    assert sum(not r.cached for r in results) == 1


async def test_fallback_answer_is_not_cached_as_the_primary(stub, client):
    stub.fail_next(status=500, times=1, model="primary")
    req = make_req(stub, model="primary", temperature=0, max_retries=0,
                   fallback_models=["openai/backup"])
    assert (await client.complete(req)).model == "openai/backup"
    again = await client.complete(req)
    assert again.model == "openai/primary" and again.cached is False
    assert (await client.complete(req)).cached is True


def test_cache_key_is_stable_and_ignores_credentials():
    base = dict(model="openai/m", messages=[{"role": "user", "content": "hi"}], temperature=0)
    k1 = cache_key(LLMRequest(**base, params={"api_key": "a", "seed": 1, "stop": ["x"]}))
    k2 = cache_key(LLMRequest(**base, params={"stop": ["x"], "seed": 1, "api_key": "b"}))
    assert k1 == k2 and len(k1) == 64
    assert cache_key(LLMRequest(**base, params={"seed": 2, "stop": ["x"]})) != k1
    assert cache_key(LLMRequest(**base, cache_salt="s")) != cache_key(LLMRequest(**base))
    other_msg = {**base, "messages": [{"role": "user", "content": "hi!"}]}
    assert cache_key(LLMRequest(**other_msg)) != cache_key(LLMRequest(**base))
    assert cache_key(LLMRequest(**{**base, "model": "openai/n"})) != cache_key(LLMRequest(**base))
    assert cache_key(LLMRequest(**{**base, "temperature": 0.5})) != cache_key(LLMRequest(**base))
    # Retry policy and timeouts do not change the answer.
    assert cache_key(LLMRequest(**base, max_retries=0, timeout_s=5)) == cache_key(
        LLMRequest(**base))


async def test_memory_cache_is_lru_and_copies_values():
    cache = MemoryCache(max_entries=2)
    value = {"output": "x", "nested": {"a": 1}}
    await cache.set("a", value)
    value["nested"]["a"] = 2
    assert (await cache.get("a"))["nested"]["a"] == 1
    await cache.set("b", {"output": "b"})
    await cache.get("a")  # a is now most recent
    await cache.set("c", {"output": "c"})
    assert await cache.get("b") is None
    assert await cache.get("a") is not None and await cache.get("c") is not None


# ---------------------------------------------------------------- echo
async def test_echo_single_message_returns_its_content(stub):
    client = LLMClient()
    resp = await client.complete(
        LLMRequest(model="echo", messages=[{"role": "user", "content": "Hello, echo!"}])
    )
    assert resp.output == "Hello, echo!"
    assert resp.model == "echo"
    assert resp.cost_usd == 0.0
    assert resp.prompt_tokens and resp.completion_tokens
    assert resp.total_tokens == resp.prompt_tokens + resp.completion_tokens
    assert resp.attempts == 1
    assert stub.requests == []


async def test_echo_several_messages_returns_their_json():
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "안녕하세요"}]
    resp = await LLMClient().complete(LLMRequest(model="echo", messages=messages))
    assert json.loads(resp.output) == messages
    assert "안녕하세요" in resp.output


async def test_echo_as_fallback(stub, client):
    stub.fail_next(status=503, times=10)
    resp = await client.complete(make_req(stub, max_retries=0, fallback_models=["echo"]))
    assert resp.model == "echo" and resp.output == "Say hello to the harness"
    assert resp.attempts == 2


# ---------------------------------------------------------------- misc
def test_llm_error_pickles():
    err = LLMError("quota", "out of credit", model="openai/x", attempts=2, status_code=429,
                   history=[{"model": "openai/x", "kind": "quota", "message": "m"}])
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, Exception)
    assert (back.kind, back.model, back.attempts, back.message, back.status_code) == (
        "quota", "openai/x", 2, "out of credit", 429)
    assert back.history == err.history


async def test_fifty_concurrent_requests_overlap(stub, client):
    """The stub answers nothing until all 50 are in flight: overlap, not timing."""
    stub.hold_until_in_flight(50)
    results = await asyncio.gather(
        *[client.complete(make_req(stub, text=f"request {i}", timeout_s=120))
          for i in range(50)]
    )
    assert [r.output for r in results] == [f"request {i}" for i in range(50)]
    assert stub.max_in_flight == 50
