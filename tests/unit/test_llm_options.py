"""The allowlist of LLM options (harness.llm.options): exact names, the field in the
message, endpoint and credential names told apart from mere typos."""

from __future__ import annotations

import pytest

from harness.llm import options


def test_allowed_names_pass_and_anything_else_is_named():
    options.check_options({"temperature": 0, "seed": 1, "tools": [], "stop": ["x"]},
                          "targets.0.params")
    for name in ("api_base", "API_KEY", "Api_Key", "base_url", "extra_headers", "headers",
                 "aws_secret_access_key", "vertex_credentials", "azure_ad_token",
                 "organization", "Temperature", "mock_response", "num_retries",
                 "input_cost_per_token", "custom_llm_provider", "metadata"):
        with pytest.raises(options.OptionRefused) as ei:
            options.check_options({"temperature": 0, name: "x"}, "targets.0.params")
        assert ei.value.field == f"targets.0.params.{name}"
        assert str(ei.value).startswith(f"targets.0.params.{name}: ")


def test_endpoints_and_keys_point_at_server_configuration():
    with pytest.raises(options.OptionRefused, match="server configuration"):
        options.check_options({"API_BASE": "http://x"}, "judge_params")
    with pytest.raises(options.OptionRefused, match="not an allowed LLM option") as ei:
        options.check_options({"temprature": 0}, "params")
    assert "temperature" in str(ei.value)  # the allowed names are listed
    assert not options.is_endpoint_or_credential("max_tokens")
    assert not options.is_endpoint_or_credential("max_completion_tokens")


def test_the_gateway_takes_the_openai_request_and_forwards_only_options():
    options.check_options({"model": "m", "messages": [], "stream": True, "variables": {},
                           "reasoning_effort": "low", "store": False}, "",
                          options.OPENAI_CHAT_FIELDS)
    with pytest.raises(options.OptionRefused) as ei:
        options.check_options({"model": "m", "api_key": "k"}, "", options.OPENAI_CHAT_FIELDS)
    assert ei.value.field == "api_key"
    assert {"model", "messages", "stream", "variables", "timeout"}.isdisjoint(
        options.OPENAI_FORWARDED)


def test_filtering_and_masking():
    params = {"temperature": 0.2, "api_base": "http://evil", "API_KEY": "sk-live"}
    assert options.allowed_options(params) == {"temperature": 0.2}
    assert options.masked_options(params) == {"temperature": 0.2, "api_base": "***",
                                              "API_KEY": "***"}
    assert options.allowed_options({"dimensions": 8}, options.JUDGE_OPTIONS) == {"dimensions": 8}
