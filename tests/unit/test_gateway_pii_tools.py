"""The gateway's PII policy over tool calls, names and tool definitions (pure, no I/O)."""

from __future__ import annotations

import copy
import json

import pytest

from harness.pii import PIIBlocked
from services.gateway import pii

PHONE, EMAIL, RRN = "010-1234-5678", "a@b.com", "900101-1234567"


def _assistant(arguments) -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}]}


def _args(messages: list[dict], i: int = 0) -> str:
    return messages[i]["tool_calls"][0]["function"]["arguments"]


def test_json_arguments_are_masked_inside_their_strings_and_stay_json():
    raw = json.dumps({"phone": PHONE, "n": 2, "ok": True, "none": None, "city": "서울",
                      "nested": [{"rrn": RRN}, EMAIL]}, ensure_ascii=False)
    messages = [_assistant(raw)]
    before = copy.deepcopy(messages)
    out, action, counts = pii.apply_to_messages(messages, "mask")
    assert json.loads(_args(out)) == {"phone": "[PHONE]", "n": 2, "ok": True, "none": None,
                                      "city": "서울", "nested": [{"rrn": "[RRN]"}, "[EMAIL]"]}
    assert "서울" in _args(out)  # not re-escaped to \\uXXXX
    assert action == "masked" and counts == {"phone": 1, "rrn": 1, "email": 1}
    assert messages == before  # the caller's request is not changed


def test_clean_arguments_are_sent_byte_for_byte():
    raw = '{ "q" :"weather",\n  "days": 3 }'
    out, action, _ = pii.apply_to_messages([_assistant(raw), {"role": "user",
                                                              "content": PHONE}], "mask")
    assert _args(out) == raw and action == "masked"
    assert out[1]["content"] == "[PHONE]"


@pytest.mark.parametrize(("raw", "masked"), [
    (f"call {PHONE}", "call [PHONE]"),                     # not JSON: masked whole
    (json.dumps(f"mail {EMAIL}"), json.dumps("mail [EMAIL]")),  # a JSON string stays one
    ('{"broken": "' + PHONE, '{"broken": "[PHONE]'),       # invalid JSON stays as invalid
])
def test_arguments_that_are_not_a_json_object(raw, masked):
    out, _, _ = pii.apply_to_messages([_assistant(raw)], "mask")
    assert _args(out) == masked


def test_legacy_function_call_names_and_tool_results():
    messages = [
        {"role": "user", "name": EMAIL, "content": "hi"},
        {"role": "assistant", "content": None, "refusal": f"not {PHONE}",
         "function_call": {"name": "f", "arguments": json.dumps({"to": EMAIL})}},
        {"role": "function", "name": "f", "content": f"sent {PHONE}"},
        {"role": "tool", "tool_call_id": "c", "content": [{"type": "text",
                                                          "text": f"rrn {RRN}"}]},
    ]
    out, _, counts = pii.apply_to_messages(messages, "mask")
    assert out[0]["name"] == "[EMAIL]" and out[1]["refusal"] == "not [PHONE]"
    assert json.loads(out[1]["function_call"]["arguments"]) == {"to": "[EMAIL]"}
    assert out[2] == {"role": "function", "name": "f", "content": "sent [PHONE]"}
    assert out[3]["content"][0]["text"] == "rrn [RRN]"
    assert counts == {"email": 2, "phone": 2, "rrn": 1}


def test_tool_definitions_free_text_is_masked_and_the_contract_kept():
    params = {"temperature": 0, "tools": [{"type": "function", "function": {
        "name": "book", "description": f"escalate to {EMAIL}",
        "parameters": {"type": "object", "title": f"call {PHONE}", "properties": {
            "description": {"type": "string", "description": f"e.g. {RRN}"},
            "kind": {"type": "string", "enum": ["a", "b"], "default": PHONE,
                     "examples": [EMAIL, 3]},
            "items": {"type": "array", "items": {"type": "string",
                                                 "description": f"to {EMAIL}"}}},
            "$defs": {"x": {"description": PHONE}}}}}],
        "functions": [{"name": "old", "description": PHONE}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "out", "description": EMAIL, "schema": {
                "type": "object", "properties": {"p": {"description": PHONE}}}}}}
    before = copy.deepcopy(params)
    _, out, action, _ = pii.apply_to_request([{"role": "user", "content": "hi"}], params,
                                             "mask")
    fn = out["tools"][0]["function"]
    assert fn["name"] == "book" and fn["description"] == "escalate to [EMAIL]"
    props = fn["parameters"]["properties"]
    assert fn["parameters"]["title"] == "call [PHONE]"
    assert props["description"] == {"type": "string", "description": "e.g. [RRN]"}
    assert props["kind"] == {"type": "string", "enum": ["a", "b"], "default": "[PHONE]",
                             "examples": ["[EMAIL]", 3]}
    assert props["items"]["items"]["description"] == "to [EMAIL]"
    assert fn["parameters"]["$defs"]["x"]["description"] == "[PHONE]"
    assert out["functions"][0]["description"] == "[PHONE]"
    spec = out["response_format"]["json_schema"]
    assert spec["description"] == "[EMAIL]"
    assert spec["schema"]["properties"]["p"]["description"] == "[PHONE]"
    assert out["temperature"] == 0 and action == "masked"
    assert params == before


def test_block_names_each_place_and_counts_all_kinds():
    messages = [{"role": "user", "content": "hi", "name": PHONE},
                _assistant(json.dumps({"a": EMAIL, "b": RRN}))]
    params = {"tools": [{"type": "function", "function": {"name": "f",
                                                          "description": EMAIL}}]}
    with pytest.raises(PIIBlocked) as caught:
        pii.apply_to_request(messages, params, "block")
    assert caught.value.counts == {"phone": 1, "email": 2, "rrn": 1}
    assert ("in messages.0.name, messages.1.tool_calls.0.function.arguments.a, "
            "messages.1.tool_calls.0.function.arguments.b, tools.0.function.description:"
            ) in caught.value.detail
    many = [{"role": "user", "content": PHONE} for _ in range(7)]
    with pytest.raises(PIIBlocked) as caught:
        pii.apply_to_messages(many, "block")
    assert "messages.4.content (and 2 more)" in caught.value.detail
    out, _, action, _ = pii.apply_to_request([_assistant('{"q": "x"}')], {}, "block")
    assert action == "passed"


def test_off_reads_nothing():
    messages = [_assistant(json.dumps({"p": PHONE}))]
    params = {"tools": [{"type": "function", "function": {"name": "f", "description": PHONE}}]}
    out, out_params, action, counts = pii.apply_to_request(messages, params, "off")
    assert out is messages and out_params is params and (action, counts) == ("none", {})


def test_an_answers_tool_calls_as_stored():
    calls = [{"id": "c", "type": "function",
              "function": {"name": "f", "arguments": json.dumps({"p": PHONE, "n": 1})}},
             {"id": "d", "type": "function", "function": {"name": "g", "arguments": EMAIL}}]
    stored = pii.mask_calls_for_storage(calls, "mask")
    assert json.loads(stored[0]["function"]["arguments"]) == {"p": "[PHONE]", "n": 1}
    assert stored[1]["function"] == {"name": "g", "arguments": "[EMAIL]"}
    assert PHONE in calls[0]["function"]["arguments"]  # the client's answer is untouched
    assert pii.mask_calls_for_storage(calls, "block")[1]["function"]["arguments"] \
        == "[EMAIL]"  # block refuses requests; what it stores of answers is masked
    assert pii.mask_calls_for_storage(calls, "off") is calls


@pytest.mark.parametrize(("message", "field"), [
    ({"role": "assistant", "tool_calls": {"a": 1}}, "messages.0.tool_calls"),
    ({"role": "assistant", "tool_calls": ["x"]}, "messages.0.tool_calls.0"),
    ({"role": "assistant", "tool_calls": [{"function": None}]}, "messages.0.tool_calls.0"),
    ({"role": "assistant", "function_call": []}, "messages.0.function_call"),
    ({"role": "user", "content": "x", "name": ["a"]}, "messages.0.name"),
])
def test_shapes_the_policy_cannot_read_are_refused(message, field):
    with pytest.raises(pii.PartRefused) as caught:
        pii.check_messages([message], "off")
    assert caught.value.field == field
