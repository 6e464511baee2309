"""Budgets hold whatever a request asks for: ``n`` choices, ``max_completion_tokens``,
streams and embeddings whose answers carry no usage.

The spend that counts is the provider's: the stub records the tokens it would bill for
every answer (``StubLLM.billed``), whether or not it told the gateway, and each test
prices those tokens itself instead of trusting the gateway's own bookkeeping.
"""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.stub_llm import StubLLM

IN, OUT = 1e-6, 2e-6
PRICES = {"openai/primary": {"input_cost_per_token": IN, "output_cost_per_token": OUT},
          "openai/emb": {"input_cost_per_token": IN, "output_cost_per_token": 0.0}}


@pytest.fixture
async def stub():
    async with StubLLM(latency_s=0.02) as s:
        yield s


@pytest.fixture
async def gw(runtime, stub):
    settings = GatewaySettings(
        deployments={"*": {"api_base": stub.base_url, "api_key": "sk-test"}},
        prices=PRICES, num_retries=0, timeout_s=30, trace_flush_s=0.05)
    async with serve_gateway(runtime, settings) as served:
        yield served


def provider_spend(stub: StubLLM) -> float:
    """What the provider billed, from the tokens it really produced."""
    return sum(p * IN + c * (OUT if m != "emb" else 0.0) for m, p, c in stub.billed)


async def _spend_row(gw) -> dict:
    row = await gw.pool.fetchrow("SELECT spent_usd, reserved_usd FROM gateway_spend")
    return {"spent": float(row["spent_usd"]), "reserved": float(row["reserved_usd"])}


async def _post_many(gw, key: str, path: str, body: dict, count: int) -> list:
    async with gw.http() as h:
        async def one():
            r = await h.post(path, headers={"Authorization": f"Bearer {key}"}, json=body)
            await r.aread()
            return r
        return await asyncio.gather(*[one() for _ in range(count)])


async def test_100_concurrent_requests_with_n_never_spend_more_than_the_budget(gw, stub):
    budget = 0.01
    stub.usage("primary", 10, 20)  # every choice uses all its max_tokens
    key = await gw.key(budget_day_usd=budget)
    rs = await _post_many(gw, key, "/v1/chat/completions",
                          {"model": "openai/primary", "n": 40, "max_tokens": 20,
                           "messages": [{"role": "user", "content": "hi"}]}, 100)
    ok = [r for r in rs if r.status_code == 200]
    assert {r.status_code for r in rs} <= {200, 429} and ok
    assert all(len(r.json()["choices"]) == 40 for r in ok)
    spent = provider_spend(stub)
    print(f"n=40 x 100 concurrent: provider spend ${spent:.6f} of a ${budget} budget "
          f"({len(ok)} answered, {len(rs) - len(ok)} refused)")
    assert spent <= budget
    row = await _spend_row(gw)
    assert row["reserved"] == 0 and row["spent"] == pytest.approx(spent)


async def test_max_completion_tokens_is_covered_even_with_a_smaller_max_tokens(gw, stub):
    """A provider that honours ``max_completion_tokens`` may write far more than
    ``max_tokens`` (an application's default) says: the reservation takes the larger."""
    budget = 0.01
    stub.usage("primary", 10, 900)
    key = await gw.key(budget_day_usd=budget)
    rs = await _post_many(gw, key, "/v1/chat/completions",
                          {"model": "openai/primary", "max_tokens": 10,
                           "max_completion_tokens": 1000,
                           "messages": [{"role": "user", "content": "hi"}]}, 30)
    assert {r.status_code for r in rs} <= {200, 429}
    assert provider_spend(stub) <= budget


async def _post_in_turn(gw, key: str, path: str, body: dict, count: int) -> list:
    async with gw.http() as h:
        return [await h.post(path, headers={"Authorization": f"Bearer {key}"}, json=body)
                for _ in range(count)]


async def test_streams_without_usage_are_charged_their_worst_case(gw, stub):
    """No usage in the answer must not mean "free": the reservation is kept as spent."""
    budget = 0.01
    stub.send_usage = False
    key = await gw.key(budget_day_usd=budget)
    body = {"model": "openai/primary", "max_tokens": 1000, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    stub.reply("primary", " ".join(["out"] * 1000))
    rs = await _post_in_turn(gw, key, "/v1/chat/completions", body, 10)
    assert {r.status_code for r in rs} == {200, 429}
    assert provider_spend(stub) <= budget
    row = await _spend_row(gw)
    assert row["reserved"] == 0 and row["spent"] >= provider_spend(stub)


async def test_chat_without_usage_is_charged_its_worst_case(gw, stub):
    budget = 0.01
    stub.send_usage = False
    key = await gw.key(budget_day_usd=budget)
    stub.reply("primary", " ".join(["out"] * 1000))
    rs = await _post_in_turn(gw, key, "/v1/chat/completions",
                             {"model": "openai/primary", "max_tokens": 1000,
                              "messages": [{"role": "user", "content": "hi"}]}, 10)
    assert {r.status_code for r in rs} == {200, 429}
    assert provider_spend(stub) <= budget


async def test_embeddings_without_usage_are_charged_their_worst_case(gw, stub):
    budget = 0.01
    stub.send_usage = False
    key = await gw.key(budget_day_usd=budget)
    text = " ".join(["w"] * 1000)
    rs = await _post_in_turn(gw, key, "/v1/embeddings",
                             {"model": "openai/emb", "input": [text, text]}, 10)
    assert {r.status_code for r in rs} == {200, 429}
    spent = provider_spend(stub)
    assert 0 < spent <= budget
    row = await _spend_row(gw)
    assert row["reserved"] == 0 and row["spent"] >= spent


@pytest.mark.parametrize("field,value", [("n", 0), ("n", -3), ("n", "4"), ("n", 1.5),
                                         ("max_tokens", -100000), ("max_tokens", "9"),
                                         ("max_completion_tokens", -1)])
async def test_bounds_a_budget_relies_on_must_be_positive_integers(gw, stub, field, value):
    """A negative ``max_tokens`` would reserve a negative amount (freeing others' room)."""
    key = await gw.key(budget_day_usd=1)
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": "openai/primary", field: value,
                               "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert stub.chat_requests == []


async def test_tool_definitions_billed_as_input_are_in_the_worst_case(gw, stub):
    """Tools (and response formats) are prompt tokens the provider bills: a tiny message
    with a large tool schema must not reserve as if it were tiny."""
    budget = 0.05
    stub.usage("primary", 5000, 10)  # what the provider bills for the 20 kB of tools
    key = await gw.key(budget_day_usd=budget)
    tool = {"type": "function", "function": {
        "name": "lookup", "description": "word " * 4000,
        "parameters": {"type": "object", "properties": {}}}}
    rs = await _post_many(gw, key, "/v1/chat/completions",
                          {"model": "openai/primary", "max_tokens": 10, "tools": [tool],
                           "messages": [{"role": "user", "content": "hi"}]}, 100)
    assert {r.status_code for r in rs} <= {200, 429}
    assert provider_spend(stub) <= budget


async def test_images_reserve_an_allowance_whatever_their_url_length(gw, stub):
    budget = 0.05
    stub.usage("primary", 3000, 10)  # a high-detail image costs far more than its URL
    key = await gw.key(budget_day_usd=budget)
    part = {"type": "image_url", "image_url": {"url": "http://img.example/a.png"}}
    rs = await _post_many(gw, key, "/v1/chat/completions",
                          {"model": "openai/primary", "max_tokens": 10,
                           "messages": [{"role": "user", "content": [
                               {"type": "text", "text": "what is it?"}, part]}]}, 100)
    assert {r.status_code for r in rs} <= {200, 429}
    assert provider_spend(stub) <= budget


async def test_a_client_leaving_mid_stream_does_not_leave_its_reservation_held(gw, stub):
    """The stream's settlement survives the cancellation a disconnect brings: the
    reservation is released (charged at its worst case: no usage came), not held forever."""
    stub.chunk_delay_s = 0.2
    stub.reply("primary", " ".join(["w"] * 50))
    key = await gw.key(budget_day_usd=1)
    async with gw.http() as h, h.stream(
            "POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
            json={"model": "openai/primary", "max_tokens": 100, "stream": True,
                  "messages": [{"role": "user", "content": "hi"}]}) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                break  # the first chunk, then hang up
    deadline = asyncio.get_running_loop().time() + 20  # hang guard only
    while (row := await _spend_row(gw))["reserved"] != 0:
        assert asyncio.get_running_loop().time() < deadline, row
        await asyncio.sleep(0.1)
    assert row["spent"] > 0


async def test_a_call_that_timed_out_is_charged_its_worst_case(gw, stub):
    """A provider bills a request it finished even if the gateway stopped waiting: a
    timeout is not "nothing spent"."""
    stub.stall_next(1.0)
    stub.usage("primary", 10, 100)
    key = await gw.key(budget_day_usd=1)
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": "openai/primary", "max_tokens": 100, "timeout": 0.2,
                               "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 504, r.text
    deadline = asyncio.get_running_loop().time() + 20  # hang guard: the stub answers late
    while not stub.billed:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    row = await _spend_row(gw)
    assert row["reserved"] == 0 and row["spent"] >= provider_spend(stub) > 0
