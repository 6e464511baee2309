"""The gateway's PII policy beyond message text: tool call arguments (request and answer,
whole and streamed), legacy ``function_call``, ``tool`` results, message names and the
request's tool definitions, against real Postgres, LiteLLM and the loopback stub."""

from __future__ import annotations

import json

import pytest

PHONE, EMAIL, RRN = "010-1234-5678", "a@b.com", "900101-1234567"
SECRETS = (PHONE, EMAIL, RRN)


def _conversation() -> list[dict]:
    """A tool-using conversation with personal data in every place but message text."""
    return [
        {"role": "system", "content": "You book calls."},
        {"role": "user", "name": EMAIL, "content": "book it"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {
                "name": "lookup",
                "arguments": json.dumps({"phone": PHONE, "who": {"rrn": RRN},
                                         "cc": [EMAIL], "n": 2})}},
            {"id": "call_2", "type": "function", "function": {
                "name": "note", "arguments": f"not json: call {PHONE}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": f"found {EMAIL}"},
        {"role": "tool", "tool_call_id": "call_2",
         "content": [{"type": "text", "text": f"rrn {RRN}"}]},
        {"role": "assistant", "content": None,
         "function_call": {"name": "legacy", "arguments": json.dumps({"to": EMAIL})}},
        {"role": "function", "name": "legacy", "content": f"sent to {PHONE}"},
        {"role": "user", "content": "and now?"},
    ]


def _tools() -> list[dict]:
    return [{"type": "function", "function": {
        "name": "book_call",
        "description": f"Books a call; escalations go to {EMAIL}",
        "parameters": {"type": "object", "properties": {
            "phone": {"type": "string", "description": f"like {PHONE}",
                      "default": PHONE, "examples": [PHONE]},
            "notes": {"type": "object", "properties": {
                "rrn": {"type": "string", "description": f"e.g. {RRN}"}}}},
            "required": ["phone"]}}}]


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


async def _stored(gw) -> str:
    await gw.gateway.traces.flush()
    rows = await gw.pool.fetch("SELECT t::text AS row FROM gateway_traces t")
    return "\n".join(r["row"] for r in rows)


async def _post(gw, key: str, body: dict):
    async with gw.http() as h:
        return await h.post("/v1/chat/completions",
                            headers={"Authorization": f"Bearer {key}"}, json=body)


def _answer_with_tool_call() -> dict:
    return {"content": None, "tool_calls": [
        {"name": "book_call", "arguments": json.dumps({"phone": PHONE, "mail": EMAIL,
                                                       "notes": {"rrn": RRN}})}]}


async def test_mask_reaches_the_provider_without_personal_data_in_tools(gw, stub):
    key = await gw.key("m")  # default policy: mask
    stub.script("primary", _answer_with_tool_call())
    r = await _post(gw, key, {"model": "openai/primary", "messages": _conversation(),
                              "tools": _tools(), "tool_choice": "auto"})
    assert r.status_code == 200, r.text
    [sent] = stub.chat_requests
    assert _leaks(json.dumps(sent.body, ensure_ascii=False)) == []
    msgs = sent.messages
    assert msgs[1]["name"] == "[EMAIL]"
    args = json.loads(msgs[2]["tool_calls"][0]["function"]["arguments"])  # still JSON
    assert args == {"phone": "[PHONE]", "who": {"rrn": "[RRN]"}, "cc": ["[EMAIL]"], "n": 2}
    assert msgs[2]["tool_calls"][1]["function"]["arguments"] == "not json: call [PHONE]"
    assert msgs[2]["tool_calls"][0]["function"]["name"] == "lookup"
    assert msgs[3]["content"] == "found [EMAIL]"
    assert msgs[4]["content"][0]["text"] == "rrn [RRN]"
    assert json.loads(msgs[5]["function_call"]["arguments"]) == {"to": "[EMAIL]"}
    assert msgs[6]["content"] == "sent to [PHONE]" and msgs[6]["name"] == "legacy"
    fn = sent.body["tools"][0]["function"]
    assert fn["name"] == "book_call" and fn["description"].endswith("[EMAIL]")
    phone = fn["parameters"]["properties"]["phone"]
    assert phone == {"type": "string", "description": "like [PHONE]", "default": "[PHONE]",
                     "examples": ["[PHONE]"]}
    assert fn["parameters"]["required"] == ["phone"]
    assert sent.body["tool_choice"] == "auto"
    # the client gets the model's answer as it was; the trace stores it masked
    [call] = r.json()["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"])["phone"] == PHONE
    assert r.json()["choices"][0]["finish_reason"] == "tool_calls"
    stored = await _stored(gw)
    assert _leaks(stored) == []
    response = await gw.pool.fetchval("SELECT response FROM gateway_traces")
    response = json.loads(response) if isinstance(response, str) else response
    [kept] = response["tool_calls"]
    assert kept["function"]["name"] == "book_call"
    assert json.loads(kept["function"]["arguments"]) == {
        "phone": "[PHONE]", "mail": "[EMAIL]", "notes": {"rrn": "[RRN]"}}
    assert await gw.pool.fetchval("SELECT pii_action FROM gateway_traces") == "masked"


async def test_a_streamed_tool_call_is_stored_masked_and_whole(gw, stub):
    key = await gw.key("s")
    client = gw.sdk(key)
    stub.script("primary", _answer_with_tool_call())
    stream = await client.chat.completions.create(
        model="openai/primary", messages=_conversation(), tools=_tools(), stream=True)
    pieces, names = [], []
    async for chunk in stream:
        for c in chunk.choices:
            for t in c.delta.tool_calls or []:
                names.append(t.function.name) if t.function and t.function.name else None
                pieces.append(t.function.arguments or "" if t.function else "")
    assert len([p for p in pieces if p]) >= 2  # the arguments came in several deltas
    assert json.loads("".join(pieces))["phone"] == PHONE and names == ["book_call"]
    [sent] = stub.chat_requests
    assert _leaks(json.dumps(sent.body, ensure_ascii=False)) == []
    assert _leaks(await _stored(gw)) == []
    response = await gw.pool.fetchval("SELECT response FROM gateway_traces")
    response = json.loads(response) if isinstance(response, str) else response
    [kept] = response["tool_calls"]
    assert kept["id"] == "call_0" and kept["function"]["name"] == "book_call"
    assert json.loads(kept["function"]["arguments"]) == {
        "phone": "[PHONE]", "mail": "[EMAIL]", "notes": {"rrn": "[RRN]"}}


@pytest.mark.parametrize("place", ["arguments", "function_call", "tool", "name",
                                   "description", "default"])
async def test_block_refuses_personal_data_in_each_tool_place(gw, stub, place):
    key = await gw.key("b", pii_policy="block")
    clean_args = json.dumps({"q": "weather"})
    messages = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function",
             "function": {"name": "f", "arguments": clean_args}}]},
        {"role": "tool", "tool_call_id": "c", "content": "sunny"},
    ]
    tools = [{"type": "function", "function": {
        "name": "f", "description": "weather",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
    where = {
        "arguments": "messages.1.tool_calls.0.function.arguments",
        "function_call": "messages.3.function_call.arguments",
        "tool": "messages.2.content",
        "name": "messages.0.name",
        "description": "tools.0.function.description",
        "default": "tools.0.function.parameters.properties.q.default",
    }[place]
    if place == "arguments":
        messages[1]["tool_calls"][0]["function"]["arguments"] = json.dumps({"q": PHONE})
    elif place == "function_call":
        messages.append({"role": "assistant", "content": None, "function_call": {
            "name": "f", "arguments": json.dumps({"q": PHONE})}})
    elif place == "tool":
        messages[2]["content"] = f"call {PHONE}"
    elif place == "name":
        messages[0]["name"] = PHONE
    elif place == "description":
        tools[0]["function"]["description"] = f"call {PHONE}"
    else:
        tools[0]["function"]["parameters"]["properties"]["q"]["default"] = PHONE
    r = await _post(gw, key, {"model": "openai/primary", "messages": messages,
                              "tools": tools})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["kinds"] == ["phone"] and where in problem["detail"]
    assert problem["detail"].count("messages.") + problem["detail"].count("tools.") == 1
    assert stub.chat_requests == []
    assert PHONE not in await _stored(gw)


async def test_block_passes_clean_tools_and_off_sends_them_as_they_are(gw, stub):
    blocker = await gw.key("b", pii_policy="block")
    stub.script("primary", _answer_with_tool_call(), "ok")
    clean = [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "done"}]
    r = await _post(gw, blocker, {"model": "openai/primary", "messages": clean})
    assert r.status_code == 200, r.text
    # the answer's tool call carries personal data: the trace stores it masked all the same
    assert _leaks(await _stored(gw)) == []
    off = await gw.key("o", pii_policy="off")
    r = await _post(gw, off, {"model": "openai/primary", "messages": _conversation(),
                              "tools": _tools()})
    assert r.status_code == 200, r.text
    sent = json.dumps(stub.chat_requests[-1].body, ensure_ascii=False)
    assert _leaks(sent) == list(SECRETS)  # off: nothing read, nothing masked
    assert stub.chat_requests[-1].messages[2]["tool_calls"][0]["function"]["arguments"] \
        == _conversation()[2]["tool_calls"][0]["function"]["arguments"]


@pytest.mark.parametrize(("message", "field"), [
    ({"role": "assistant", "tool_calls": "call 010-1234-5678"}, "messages.0.tool_calls"),
    ({"role": "assistant", "tool_calls": [{"id": "c", "function": "x"}]},
     "messages.0.tool_calls.0"),
    ({"role": "assistant", "function_call": "x"}, "messages.0.function_call"),
    ({"role": "user", "content": "hi", "name": 7}, "messages.0.name"),
])
async def test_tool_shapes_the_policy_cannot_read_are_422(gw, stub, message, field):
    key = await gw.key("m")
    r = await _post(gw, key, {"model": "openai/primary", "messages": [message]})
    assert r.status_code == 422, r.text
    body = r.json()  # a problem that also carries OpenAI's error
    assert body["type"] == "urn:harness:problem:bad-content-part"
    assert body["field"] == field and body["error"]["param"] == field
    assert stub.chat_requests == []
