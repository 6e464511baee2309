"""The gateway's worst case: token bounds and prices that cannot be beaten."""

from __future__ import annotations

import pytest

from services.gateway import budget


def test_the_worst_case_uses_the_dearest_tier_of_a_price():
    prices = {"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                    "input_cost_per_token_above_128k_tokens": 4e-6,
                    "output_cost_per_token_above_128k_tokens": 8e-6,
                    "cache_creation_input_token_cost": 5e-6,
                    "output_cost_per_reasoning_token": 3e-6,
                    "input_cost_per_character": 1.0,  # another unit: not a token price
                    "input_cost_per_image": 1.0}}
    assert budget.worst_case_cost(["m"], 100, 10, prices) == pytest.approx(
        100 * 5e-6 + 10 * 8e-6)


def test_prompt_bound_counts_tools_formats_tool_calls_and_media_parts():
    msgs = [{"role": "user", "content": "hi"}]
    base = budget.prompt_tokens_upper_bound(msgs)
    tools = [{"type": "function", "function": {"name": "f", "description": "x" * 5000}}]
    assert budget.prompt_tokens_upper_bound(msgs, {"tools": tools}) > base + 5000
    fmt = {"type": "json_schema", "json_schema": {"schema": {"description": "y" * 3000}}}
    assert budget.prompt_tokens_upper_bound(msgs, {"response_format": fmt}) > base + 3000
    call = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "f", "arguments": "z" * 4000}}]}]
    assert budget.prompt_tokens_upper_bound(msgs + call) > base + 4000
    image = [{"role": "user", "content": [{"type": "image_url",
                                           "image_url": {"url": "http://x/a.png"}}]}]
    assert budget.prompt_tokens_upper_bound(image) >= budget.MEDIA_PART_TOKENS


@pytest.mark.parametrize("params,bound", [
    ({}, 0), ({"max_tokens": 20}, 20), ({"max_tokens": 20, "n": 40}, 800),
    ({"max_tokens": 10, "max_completion_tokens": 1000}, 1000),
    ({"max_completion_tokens": 7, "n": 3}, 21)])
def test_output_bound_is_n_times_the_larger_limit(params, bound):
    assert budget.output_tokens_bound(params) == bound


def test_a_named_service_tier_and_web_search_are_priced_in():
    prices = {"m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                    "input_cost_per_token_priority": 3e-6,
                    "output_cost_per_token_priority": 6e-6,
                    "search_context_cost_per_query": {"search_context_size_low": 0.01,
                                                      "search_context_size_high": 0.03}}}
    assert budget.worst_case_cost(["m"], 100, 10, prices) == pytest.approx(100e-6 + 20e-6)
    assert budget.worst_case_cost(["m"], 100, 10, prices, {"service_tier": "priority"}) \
        == pytest.approx(300e-6 + 60e-6)
    assert budget.worst_case_cost(["m"], 100, 10, prices, {"web_search_options": {}}) \
        == pytest.approx(120e-6 + 0.03)


def test_a_prediction_adds_its_size_to_every_choice():
    assert budget.output_tokens_bound({"max_tokens": 10, "n": 2,
                                       "prediction": {"type": "content",
                                                      "content": "x" * 1000}}) > 2 * 1000
