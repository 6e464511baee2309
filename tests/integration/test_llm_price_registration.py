"""LLMClient registers each model's price with LiteLLM once, so LiteLLM prices responses by
a direct cost-map lookup instead of its fuzzy search, and harness's costs stay as before."""

from __future__ import annotations

import uuid

import pytest
import structlog

from harness.llm import LLMClient, LLMRequest, pricing
from harness.llm._litellm import litellm
from tests.support.stub_llm import StubLLM


@pytest.fixture
def fuzzy_lookups(monkeypatch):
    """Counts LiteLLM's fuzzy search for a model its cost map does not name exactly: its
    capability-generalization rules, tried name by name only after every exact lookup
    missed (~45 rule matches per call for an unmapped model)."""
    import litellm.utils as lm_utils

    from harness.llm._litellm import warm

    warm()  # LiteLLM's one mocked warm-up call is not what is counted
    calls: list[str] = []
    original = lm_utils.match_capability_generalizations

    def counting(*args, **kwargs):
        calls.append(args[0] if args else str(kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(lm_utils, "match_capability_generalizations", counting)
    return calls


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"  # registration is once per model per process


def request(stub: StubLLM, model: str) -> LLMRequest:
    return LLMRequest(model=f"openai/{model}", messages=[{"role": "user", "content": "hi"}],
                      max_retries=0)


def client_for(stub: StubLLM, **kw) -> LLMClient:
    return LLMClient(cache=False, deployments={"*": {"api_base": stub.base_url,
                                                     "api_key": "sk-test"}}, **kw)


async def test_a_priced_model_is_costed_without_litellms_fuzzy_lookup(stub, fuzzy_lookups):
    model = unique("house-model")
    client = client_for(stub, prices={f"openai/{model}": {"input_cost_per_token": 0.01,
                                                          "output_cost_per_token": 0.02}})
    stub.usage(model, prompt_tokens=10, completion_tokens=5)
    first = await client.complete(request(stub, model))  # registers the price (once)
    fuzzy_lookups.clear()
    second = await client.complete(request(stub, model))
    assert fuzzy_lookups == []
    assert first.cost_usd == second.cost_usd == pytest.approx(10 * 0.01 + 5 * 0.02)


async def test_bare_litellm_takes_the_fuzzy_lookup_for_an_unmapped_model(stub, fuzzy_lookups):
    """The control for the test above: without registration the counter moves."""
    model = unique("unregistered-model")
    for _ in range(2):
        fuzzy_lookups.clear()
        await litellm().acompletion(model=f"openai/{model}", api_base=stub.base_url,
                                    api_key="sk-test",
                                    messages=[{"role": "user", "content": "hi"}],
                                    **{"no-log": True})
    assert fuzzy_lookups  # on every call, not only the first


async def test_an_unpriced_model_stays_unknown_and_skips_the_fuzzy_lookup(stub, fuzzy_lookups):
    model = unique("unpriced-model")
    with structlog.testing.capture_logs() as logs:
        resp = await client_for(stub).complete(request(stub, model))
        fuzzy_lookups.clear()
        again = await client_for(stub).complete(request(stub, model))
    assert fuzzy_lookups == []
    assert resp.cost_usd is None and again.cost_usd is None
    assert [e["model"] for e in logs if e["event"] == "llm.price_unknown"] == [f"openai/{model}"]
    assert pricing.cost_map_entry(f"openai/{model}") is None


async def test_one_clients_prices_do_not_price_the_model_for_another_client(stub):
    model = unique("private-price")
    priced = client_for(stub, prices={model: {"input_cost_per_token": 1.0,
                                              "output_cost_per_token": 1.0}})
    stub.usage(model, prompt_tokens=2, completion_tokens=3)
    assert (await priced.complete(request(stub, model))).cost_usd == pytest.approx(5.0)
    stub.usage(model, prompt_tokens=2, completion_tokens=3)
    assert (await client_for(stub).complete(request(stub, model))).cost_usd is None
    assert pricing.cost_map_entry(f"openai/{model}") is None
    assert pricing.completion_cost(f"openai/{model}", 2, 3) is None


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o", "o3-mini", "gpt-4.1-nano"])
async def test_cost_of_a_model_litellm_prices_is_unchanged(stub, model, fuzzy_lookups):
    """LiteLLM's own figure for the response is used instead of pricing it a second
    time: it equals the per-token price and what ``litellm.completion_cost`` answers."""
    stub.usage(model, prompt_tokens=1000, completion_tokens=500)
    resp = await client_for(stub).complete(request(stub, model))
    entry = litellm().model_cost[model]
    expected = 1000 * entry["input_cost_per_token"] + 500 * entry["output_cost_per_token"]
    assert resp.cost_usd == pytest.approx(expected, rel=1e-12)
    assert resp.cost_usd == pricing.completion_cost(f"openai/{model}", 1000, 500)
    assert fuzzy_lookups == []
    assert model not in pricing._registered_keys  # LiteLLM's own entry is left alone


async def test_a_price_override_still_wins_over_litellms_cost_map(stub):
    client = client_for(stub, prices={"gpt-4o-mini": {"input_cost_per_token": 1.0,
                                                      "output_cost_per_token": 0.0}})
    stub.usage("gpt-4o-mini", prompt_tokens=3, completion_tokens=4)
    assert (await client.complete(request(stub, "gpt-4o-mini"))).cost_usd == pytest.approx(3.0)


async def test_registration_does_not_make_a_bare_name_routable(stub):
    """Registering ``openai/<name>`` must not teach LiteLLM to send a bare ``<name>`` (no
    provider) to OpenAI: that stays LiteLLM's "provider not given" error."""
    model = unique("routing-check")
    await client_for(stub).complete(request(stub, model))
    with pytest.raises(Exception, match="(?i)provider"):
        litellm().get_llm_provider(model)
