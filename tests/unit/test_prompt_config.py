"""A prompt version's config: strict checks, what is in effect (request > application >
version config > defaults), and the version aggregate keeping it (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness import prompt_config as pc
from harness.events import registry
from harness.events.envelope import EventMetadata, StoredEvent
from harness.events.registry_events import PromptVersionCreated
from harness.llm.options import LLM_OPTIONS
from services.registry.domain import prompts as d
from services.registry.domain.errors import Invalid
from services.registry.schemas import PromptConfig

TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "weather of a city", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {
    "name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}


def test_a_full_config_is_kept_as_given():
    config = {"model": "smart", "temperature": 0, "max_tokens": 300, "top_p": 1, "seed": 1,
              "stop": ["END"], "tools": [TOOL], "tool_choice": {
                  "type": "function", "function": {"name": "get_weather"}},
              "parallel_tool_calls": False, "response_format": SCHEMA_FORMAT,
              "reasoning_effort": "low"}
    assert pc.check_config(config) == config
    assert pc.check_config(None) == {} and pc.check_config({}) == {}
    for fmt in ({"type": "text"}, {"type": "json_object"}):
        assert pc.check_config({"response_format": fmt}) == {"response_format": fmt}


@pytest.mark.parametrize("config, field, words", [
    ({"temprature": 1, "zz": 2}, "config.temprature", ["temprature, zz", "allowed"]),
    ({"api_key": "sk-1", "API_BASE": "x"}, "config.API_BASE", ["server configuration"]),
    ({"model": ""}, "config.model", []),
    ({"tools": "get_weather"}, "config.tools", ["list"]),
    ({"tools": [{"type": "function"}]}, "config.tools.0.function", []),
    ({"tools": [{"type": "function", "function": {"name": "x", "args": {}}}]},
     "config.tools.0.function", ["args"]),
    ({"tools": [{"type": "function", "function": {"name": "x" * 65}}]},
     "config.tools.0.function.name", []),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "array"}}}]}, "config.tools.0.function.parameters.type", ['"object"']),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "required": "city"}}}]}, "config.tools.0.function.parameters",
     ["required"]),
    ({"tools": [TOOL], "tool_choice": "sometimes"}, "config.tool_choice", ["auto"]),
    ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "other"}}},
     "config.tool_choice.function.name", ["get_weather"]),
    ({"tool_choice": "auto"}, "config.tool_choice", ["needs tools"]),
    ({"parallel_tool_calls": True}, "config.parallel_tool_calls", ["needs tools"]),
    ({"response_format": {"type": "json_schema"}}, "config.response_format.json_schema", []),
    ({"response_format": {"type": "json_object", "json_schema": {}}},
     "config.response_format", ["json_schema"]),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "a", "schema": {"type": "object", "minProperties": -1}}}},
     "config.response_format.json_schema.schema", ["minProperties"]),
    ({"temperature": 2.5}, "config.temperature", []),
    ({"temperature": True}, "config.temperature", []),
    ({"top_p": 0}, "config.top_p", ["(0, 1]"]),
    ({"max_tokens": 0}, "config.max_tokens", []),
    ({"seed": 1.5}, "config.seed", []),
    ({"stop": [1]}, "config.stop", []),
])
def test_bad_configs_name_what_and_where(config, field, words):
    with pytest.raises(pc.ConfigError) as info:
        pc.check_config(config)
    assert info.value.field == field, str(info.value)
    for word in words:
        assert word in str(info.value)


def test_in_effect_request_over_application_over_config_over_defaults():
    config = {"model": "v-model", "temperature": 0.2, "seed": 4, "tools": [TOOL]}
    # the version's config over the defaults
    assert pc.in_effect(config) == ("v-model", {"temperature": 0.2, "max_tokens": 1024,
                                                "seed": 4, "tools": [TOOL]})
    # the application's over the version's config (None = unset)
    model, params = pc.in_effect(config, model="a-model",
                                 params={"temperature": 0.9, "max_tokens": None})
    assert model == "a-model" and params["temperature"] == 0.9 and params["seed"] == 4
    assert params["max_tokens"] == 1024
    # the request over everything (what the gateway does with a request's options)
    assert pc.merge(params, {"temperature": 0.0})["temperature"] == 0.0
    # no config, nothing set: the defaults; no model
    assert pc.in_effect({}) == (None, {"temperature": 0.7, "max_tokens": 1024})
    # max_completion_tokens replaces the default max_tokens rather than adding to it
    assert pc.in_effect({"max_completion_tokens": 50})[1] == {
        "temperature": 0.7, "max_completion_tokens": 50}


def test_the_request_schema_takes_exactly_model_and_the_llm_options():
    assert set(PromptConfig.model_fields) == pc.ALLOWED_KEYS == LLM_OPTIONS | {"model"}


# ---- the prompt aggregate -------------------------------------------------------------

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def apply(state, events):
    for e in events:
        state = d.evolve(state, e, T0, "ana")
    return state


def test_versions_keep_their_config_and_a_new_one_inherits_unless_given():
    config = {"model": "m", "tools": [TOOL]}
    events = d.decide(d.CreatePrompt("p", "p", "Hi", config=config), d.PromptState())
    assert events[1].config == config
    state = apply(d.PromptState(), events)
    [v2] = d.decide(d.CreateVersion("Hi!"), state)
    assert v2.config == config  # left out: the active version's
    state = apply(state, [v2])
    [v3] = d.decide(d.CreateVersion("Hi?", config={}), state)
    assert v3.config == {}
    state = apply(state, [v3])
    [v4] = d.decide(d.CreateVersion("Hey", derived_from=3), state)
    assert v4.config == {}  # derived from v3, which has none
    assert state.versions[1].config == config and state.versions[3].config == {}


def test_a_bad_config_is_invalid_naming_the_field():
    state = apply(d.PromptState(), d.decide(d.CreatePrompt("p", "p", "Hi"), d.PromptState()))
    with pytest.raises(Invalid) as info:
        d.decide(d.CreateVersion("x", config={"tools": [TOOL, TOOL]}), state)
    assert info.value.extra["field"] == "config.tools.1.function.name"
    with pytest.raises(Invalid):
        d.decide(d.CreatePrompt("q", "q", "x", config={"api_base": "http://x"}),
                 d.PromptState())


def test_a_version_stored_without_config_reads_as_none():
    stored = StoredEvent(global_position=1, event_id="00000000-0000-0000-0000-000000000001",
                         stream_id="prompt-p", stream_version=2, type="PromptVersionCreated",
                         schema_version=2, data={"prompt_id": "p", "version": 1,
                                                 "content": "Hi", "variables": []},
                         metadata=EventMetadata(), recorded_at=T0)
    event = registry.decode(stored)
    assert isinstance(event, PromptVersionCreated) and event.config == {}
    assert d.replay([stored]).versions[1].config == {}
