"""Multimodal chat content (lists of text, image_url, input_audio and file parts) over
HTTP on real Postgres: prompt versions (variables in text parts and image URLs, 422s
naming the path, readable diffs), runs on the echo model and on the loopback stub, the
gateway (plain models and ``app/<name>``: parts passed through, PII masked inside text
parts, traces storing inline data as a placeholder), ``harness eval`` on a promptfoo chat
prompt with parts, and the studio's playground."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from harness.llm import LLMClient
from harness.promptfoo import load_config, run_plan
from tests.support.gateway import serve_gateway, stub_settings
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM
from tests.support.studio import page, point_studio_at, run, texts

IMAGE_URL = "https://img.example/{{ image_id }}.png"
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZFZm10", "format": "wav"}}
PARTS = [{"role": "system", "content": "You describe {{ kind }}."},
         {"role": "user", "content": [
             {"type": "text", "text": "Describe {{ subject }}."},
             {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "high"}},
             AUDIO]}]
DATA_URL = "data:image/png;base64," + "iVBORw0KGgo" * 500


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


def is_problem(r, status: int, slug: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == f"urn:harness:problem:{slug}"
    return body


# ---------------------------------------------------------------- prompt versions
async def test_version_with_parts_variables_render_resolve_and_diff(client):
    p = (await client.post("/prompts", json={"name": "describer",
                                             "content": "Describe {{ subject }}."})).json()
    r = await client.post(f"/prompts/{p['id']}/versions",
                          json={"content": PARTS, "change_note": "look at the picture"})
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert v2["content"] == PARTS  # stored as sent: no null fields added
    assert v2["variables"] == ["image_id", "kind", "subject"]
    assert (await client.get(f"/prompts/{p['id']}/versions/2")).json()["content"] == PARTS

    rendered = (await client.post(f"/prompts/{p['id']}/render", json={
        "version": 2, "variables": {"kind": "animals", "subject": "the cat",
                                    "image_id": "42"}})).json()
    user = rendered["messages"][1]["content"]
    assert user[0] == {"type": "text", "text": "Describe the cat."}
    assert user[1] == {"type": "image_url", "image_url": {
        "url": "https://img.example/42.png", "detail": "high"}}
    assert user[2] == AUDIO
    missing = is_problem(await client.post(f"/prompts/{p['id']}/render", json={
        "version": 2, "variables": {"kind": "a", "subject": "b"}}), 422, "missing-variables")
    assert missing["missing"] == ["image_id"]

    await client.put(f"/prompts/{p['id']}/versions/2/activate", json={"reason": "ship"})
    app = (await client.post("/applications", json={
        "name": "describe-app", "model_id": "echo", "prompt_id": p["id"]})).json()
    resolved = (await client.get(f"/applications/{app['id']}/resolved")).json()
    assert resolved["content"] == PARTS and resolved["version"] == 2
    assert resolved["variables"] == ["image_id", "kind", "subject"]

    diff = (await client.get(f"/prompts/{p['id']}/diff", params={"from": 1, "to": 2})).json()
    lines = diff["diff"].splitlines()
    assert "+[image detail=high] https://img.example/{{ image_id }}.png" in lines
    assert "+[system]" in lines and "+[user]" in lines
    assert " Describe {{ subject }}." in lines  # v1's text, now the user message's text part
    assert any(line.startswith("+[audio wav] <20 characters omitted, sha256 ")
               for line in lines)
    assert diff["variables_added"] == ["image_id", "kind"]


@pytest.mark.parametrize(("content", "field"), [
    ([{"type": "video_url", "video_url": {"url": "u"}}], "content.0.content.0.type"),
    ([{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": ""}}],
     "content.0.content.1.image_url.url"),
    ([{"type": "image_url", "image_url": {"url": "u", "size": 3}}],
     "content.0.content.0.image_url.size"),
    ([{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}],
     "content.0.content.0.image_url.detail"),
    ([{"type": "text"}], "content.0.content.0"),
    ([{"type": "text", "text": "a", "image_url": {"url": "u"}}], "content.0.content.0"),
    ([{"type": "input_audio", "input_audio": {"data": "AAAA"}}],
     "content.0.content.0.input_audio.format"),
    ([{"type": "file", "file": {"filename": "a.pdf"}}], "content.0.content.0.file"),
    ([], "content.0.content"),
    (7, "content.0.content"),
])
async def test_malformed_parts_are_422_naming_the_path_and_nothing_is_written(
        client, content, field):
    p = (await client.post("/prompts", json={"name": "p", "content": "x"})).json()
    r = await client.post(f"/prompts/{p['id']}/versions",
                          json={"content": [{"role": "user", "content": content}]})
    body = is_problem(r, 422, "validation-error")
    assert body["errors"][0]["field"] == field, body  # the JSON path, no union branch names
    assert all(e["field"].startswith("content.0.content") for e in body["errors"])
    assert (await client.get(f"/prompts/{p['id']}/versions")).json()["total"] == 1
    r = await client.post("/prompts", json={"name": "q", "content": [
        {"role": "system", "content": "s"}, {"role": "user", "content": content}]})
    body = is_problem(r, 422, "validation-error")
    assert body["errors"][0]["field"] == field.replace("content.0.", "content.1.", 1)
    assert (await client.get("/prompts")).json()["total"] == 1


async def test_media_parts_only_in_user_messages_and_bad_templates_named(client):
    r = await client.post("/prompts", json={"name": "p", "content": [
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]})
    body = is_problem(r, 422, "validation-error")
    assert body["errors"][0]["field"] == "content.0"
    assert body["errors"][0]["message"] == \
        "image_url parts belong in user messages, not in a system message"
    r = await client.post("/prompts", json={"name": "p", "content": [
        {"role": "user", "content": [{"type": "image_url",
                                      "image_url": {"url": "https://x/{{ id"}}]}]})
    body = is_problem(r, 422, "invalid")
    assert "messages[0].content[0].image_url.url" in body["detail"]
    assert (await client.get("/prompts")).json()["total"] == 0


# ---------------------------------------------------------------- runs
CASES = [{"input": {"kind": "animals", "subject": "the cat", "image_id": "7"},
          "assert": [{"type": "contains", "value": "Describe the cat."}]}]


async def test_run_with_parts_on_echo_and_on_the_stub(stack, stack_client):
    c = stack_client
    p, ds = await seed(c, cases=CASES, versions=[PARTS], name="mm")
    r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "echo"}]})
    assert r.status_code == 202, r.text
    done = await wait_run(c, r.json()["id"])
    assert done["status"] == "completed" and done["passed"] == 1, done
    [res] = (await c.get(f"/runs/{done['id']}/results")).json()["items"]
    # echo answers with the text parts: several messages as JSON, parts as their text
    assert json.loads(res["output"]) == [
        {"role": "system", "content": "You describe animals."},
        {"role": "user", "content": "Describe the cat."}]
    parts = res["rendered_prompt"][1]["content"]
    assert parts[1]["image_url"] == {"url": "https://img.example/7.png", "detail": "high"}

    with StubLLM() as stub:
        stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
        stub.reply("vision", "a cat")
        r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/vision"}]})
        done = await wait_run(c, r.json()["id"])
        assert done["status"] == "completed" and done["errors"] == 0, done
        [sent] = stub.chat_requests
    assert sent.messages == [
        {"role": "system", "content": "You describe animals."},
        {"role": "user", "content": [
            {"type": "text", "text": "Describe the cat."},
            {"type": "image_url", "image_url": {"url": "https://img.example/7.png",
                                                "detail": "high"}},
            AUDIO]}]


async def test_data_url_and_audio_variables_reach_the_model_whole_and_are_stored_short(
        stack, stack_client):
    c = stack_client
    content = [{"role": "user", "content": [
        {"type": "text", "text": "What is in {{ name }}?"},
        {"type": "image_url", "image_url": {"url": "{{ image }}"}},
        {"type": "input_audio", "input_audio": {"data": "{{ audio }}", "format": "wav"}}]}]
    audio = "UklGRiQAAABXQVZF" * 200
    p, ds = await seed(c, cases=[{"input": {"name": "photo.png", "image": DATA_URL,
                                            "audio": audio}}],
                       versions=[content], name="inline")
    assert p["active"]["variables"] == ["audio", "image", "name"]
    with StubLLM() as stub:
        stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
        r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/vision"}]})
        done = await wait_run(c, r.json()["id"])
        [sent] = stub.chat_requests
    assert done["status"] == "completed" and done["errors"] == 0, done
    assert sent.messages[0]["content"][1]["image_url"]["url"] == DATA_URL
    assert sent.messages[0]["content"][2]["input_audio"] == {"data": audio, "format": "wav"}
    [res] = (await c.get(f"/runs/{done['id']}/results")).json()["items"]
    stored = res["rendered_prompt"][0]["content"]
    assert stored[0]["text"] == "What is in photo.png?"
    assert stored[1]["image_url"]["url"].startswith(
        f"data:image/png;base64,<{len(DATA_URL) - len('data:image/png;base64,')} characters "
        "omitted, sha256 ")
    assert stored[2]["input_audio"]["data"].startswith("<3200 characters omitted, sha256 ")
    rows: list = []
    for _ in range(1200):  # a hang guard: the runner's trace writer flushes on its schedule
        rows = await stack.runtime.pool.fetch(
            "SELECT request::text AS request FROM gateway_traces WHERE run_id = $1",
            done["id"])
        if rows:
            break
        await asyncio.sleep(0.05)
    [row] = rows
    assert DATA_URL not in row["request"] and audio not in row["request"]
    assert "characters omitted, sha256" in row["request"]


# ---------------------------------------------------------------- gateway
@pytest.fixture
async def gw(runtime):
    with StubLLM() as stub:
        async with serve_gateway(runtime, stub_settings(stub)) as served:
            served.stub = stub
            yield served


def _chat(model: str, content, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


async def test_gateway_passes_parts_masks_pii_in_text_parts_and_stores_them_short(gw):
    stub = gw.stub
    key = await gw.key("masked")  # the default policy: mask
    content = [{"type": "text", "text": "Mail hong@example.com about this"},
               {"type": "image_url", "image_url": {"url": DATA_URL, "detail": "low"}},
               {"type": "text", "text": "or call 010-1234-5678"}, AUDIO]
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json=_chat("openai/vision", content))
        assert r.status_code == 200, r.text
        [sent] = stub.chat_requests
        parts = sent.messages[0]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url", "text", "input_audio"]
        assert parts[0]["text"] == "Mail [EMAIL] about this"
        assert parts[2]["text"] == "or call [PHONE]"
        assert parts[1] == content[1] and parts[3] == AUDIO  # media untouched

        blocker = await gw.key("blocker", pii_policy="block")
        r = await h.post("/v1/chat/completions",
                         headers={"Authorization": f"Bearer {blocker}"},
                         json=_chat("openai/vision", [
                             {"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                             {"type": "text", "text": "I am hong@example.com"}]))
        assert r.status_code == 422 and r.json()["kinds"] == ["email"]
        assert len(stub.chat_requests) == 1
    await gw.gateway.traces.flush()
    stored = await gw.pool.fetchval("SELECT request::text FROM gateway_traces "
                                    "WHERE status = 200")
    assert "hong@example.com" not in stored and "010-1234-5678" not in stored
    assert "[EMAIL]" in stored and DATA_URL not in stored
    request = json.loads(stored)
    image = request["messages"][0]["content"][1]["image_url"]
    assert image["detail"] == "low" and "characters omitted, sha256 " in image["url"]
    assert "characters omitted" in request["messages"][0]["content"][3]["input_audio"]["data"]


@pytest.mark.parametrize(("part", "field"), [
    ({"type": "text", "text": {"value": "hong@example.com"}}, "messages.0.content.1.text"),
    ({"type": "document", "source": {"data": "hong@example.com"}},
     "messages.0.content.1.type"),
    ({"type": "image_url", "image_url": "https://x/a.png"}, "messages.0.content.1.image_url"),
    ("plain", "messages.0.content.1"),
    (None, "messages.0.content"),
])
async def test_gateway_refuses_parts_it_cannot_mask(gw, part, field):
    key = await gw.key("m")
    content = [{"type": "text", "text": "hi"}, part] if part is not None else {
        "type": "text", "text": "hong@example.com"}  # an object, not a list of parts
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json=_chat("openai/vision", content))
    assert r.status_code == 422, r.text  # a problem that also carries OpenAI's error
    body = r.json()
    assert body["type"] == "urn:harness:problem:bad-content-part"
    assert body["field"] == field and body["error"]["param"] == field
    assert gw.stub.chat_requests == []


async def test_gateway_under_policy_off_passes_unknown_part_types(gw):
    key = await gw.key("raw", pii_policy="off")
    part = {"type": "document", "source": {"type": "text", "data": "notes"}}
    async with gw.http() as h:
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json=_chat("openai/vision", [{"type": "text", "text": "hi"}, part]))
    assert r.status_code == 200, r.text
    assert gw.stub.chat_requests[0].messages[0]["content"][1] == part


async def test_gateway_application_with_parts_and_echo(gw):
    stub = gw.stub
    key = await gw.key("app-key", applications=["vision-bot", "echo-bot"])
    async with gw.http() as h:
        p = (await h.post("/prompts", json={"name": "vision", "content": PARTS})).json()
        for name, model in (("vision-bot", "openai/vision"), ("echo-bot", "echo")):
            r = await h.post("/applications", json={"name": name, "model_id": model,
                                                    "prompt_id": p["id"]})
            assert r.status_code == 201, r.text
        variables = {"kind": "birds", "subject": "the owl of kim@example.com",
                     "image_id": "9"}
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": "app/vision-bot", "variables": variables,
                               "messages": [{"role": "user", "content": [
                                   {"type": "text", "text": "Be brief."}]}]})
        assert r.status_code == 200, r.text
        [sent] = stub.chat_requests
        assert sent.messages == [
            {"role": "system", "content": "You describe birds."},
            {"role": "user", "content": [
                {"type": "text", "text": "Describe the owl of [EMAIL]."},
                {"type": "image_url", "image_url": {"url": "https://img.example/9.png",
                                                    "detail": "high"}}, AUDIO]},
            {"role": "user", "content": [{"type": "text", "text": "Be brief."}]}]
        r = await h.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         json={"model": "app/echo-bot", "variables": variables,
                               "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.text
        echoed = json.loads(r.json()["choices"][0]["message"]["content"])
        assert echoed[1] == {"role": "user", "content": "Describe the owl of [EMAIL]."}
    await gw.gateway.traces.flush()
    row = await gw.pool.fetchrow("SELECT request::text AS request, prompt_version "
                                 "FROM gateway_traces WHERE application = 'vision-bot'")
    assert row["prompt_version"] == 1 and "kim@example.com" not in row["request"]


# ---------------------------------------------------------------- harness eval (promptfoo)
async def test_promptfoo_chat_prompt_with_parts_runs_on_the_stub_and_on_echo(tmp_path):
    chat = [{"role": "user", "content": [
        {"type": "text", "text": "Describe {{ subject }}."},
        {"type": "image_url", "image_url": {"url": "https://img.example/{{ image_id }}.png"}}]}]
    (tmp_path / "chat.json").write_text(json.dumps(chat))
    with StubLLM() as stub:
        stub.reply("vision", "an owl")
        cfg = tmp_path / "promptfooconfig.yaml"
        cfg.write_text(
            "prompts: [file://chat.json]\n"
            f"providers: [echo, {{id: 'openai:chat:vision', config: {{apiBaseUrl: "
            f"'{stub.base_url}', apiKey: sk-test}}}}]\n"
            "tests: [{vars: {subject: the owl, image_id: '3'}, "
            "assert: [{type: icontains, value: owl}]}]\n")
        outcome = await run_plan(load_config(cfg), llm=LLMClient())
        [sent] = stub.chat_requests
    assert [r.status for r in outcome.results] == ["pass", "pass"]
    assert sent.messages == [{"role": "user", "content": [
        {"type": "text", "text": "Describe the owl."},
        {"type": "image_url", "image_url": {"url": "https://img.example/3.png"}}]}]
    echo = next(r for r in outcome.results if r.model == "echo")
    assert json.loads(echo.output) == sent.messages  # promptfoo's echo: the rendered prompt


# ---------------------------------------------------------------- studio playground
@pytest.fixture
async def reg(live_stack_url, monkeypatch):
    point_studio_at(monkeypatch, live_stack_url)
    async with httpx.AsyncClient(base_url=live_stack_url, timeout=30) as c:
        yield c


async def test_playground_runs_a_version_with_parts_on_echo(reg):
    p = (await reg.post("/prompts", json={"name": "vision", "content": PARTS})).json()
    at = await run(page("playground", prompt=p["id"]))
    assert [t.label for t in at.text_area] == ["image_id", "kind", "subject"]
    at.text_area(key="pg_var_image_id").input("5")
    at.text_area(key="pg_var_kind").input("fish")
    at.text_area(key="pg_var_subject").input("the carp")
    at.button[0].click()
    await run(at)
    assert "✅ Pass" in texts(at)
    codes = [c.value for c in at.code]
    assert any("[image detail=high] https://img.example/5.png" in c for c in codes)
    assert any('"content": "Describe the carp."' in c for c in codes)  # echo: text parts
