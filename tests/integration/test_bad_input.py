"""Bad input gets a 4xx problem document, never a 500 (issue 13; each case below was a 500
found by schemathesis on c5643a7)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.test_prompts_api import is_problem, make


def field_of(body: dict) -> str:
    return body["errors"][0]["field"] if "errors" in body else body["field"]


async def _dataset(client) -> str:
    r = await client.post("/datasets", json={"name": "ds"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_nul_in_json_fields_and_keys_is_422_naming_the_field(client):
    body = is_problem(await client.post("/prompts", json={"name": "a\x00b", "content": "x"}),
                      422, "validation-error")
    assert field_of(body) == "name" and "NUL" in body["detail"]
    ds = await _dataset(client)
    body = is_problem(await client.post(f"/datasets/{ds}/cases", json={
        "cases": [{"input": {"q": "ok"}}, {"input": {"deep": {"k\x00": "v"}}}]}),
        422, "validation-error")
    assert field_of(body) == "cases.1.input.deep.k\\u0000"
    r = await client.get(f"/datasets/{ds}/cases")
    assert r.json()["total"] == 0  # nothing half-written


async def test_nul_in_query_and_path_is_422(client):
    body = is_problem(await client.get("/prompts", params={"q": "a\x00"}), 422,
                      "validation-error")
    assert field_of(body) == "q"
    is_problem(await client.get("/datasets/a%00b"), 422, "validation-error")
    is_problem(await client.get("/runs", params={"dataset_id": "\x00"}), 422,
               "validation-error")


async def test_integers_beyond_the_columns_are_422(client):
    p = await make(client)
    for url in (f"/prompts/{p['id']}/versions/99999999999",
                f"/prompts/{p['id']}/diff?from=3164650560606318715180417024",
                "/prompts?offset=213389052721789630149275351229923328",
                "/events?after=10000000000000000000"):
        is_problem(await client.get(url), 422, "validation-error")
    is_problem(await client.post(f"/prompts/{p['id']}/render",
                                 json={"version": 2**40, "variables": {}}),
               422, "validation-error")
    body = is_problem(await client.post("/applications", json={
        "name": "a", "model_id": "echo", "prompt_id": p["id"], "max_tokens": 28735570461404940}),
        422, "validation-error")
    assert field_of(body) == "max_tokens"
    ds = await _dataset(client)
    body = is_problem(await client.post(f"/datasets/{ds}/cases", json={
        "cases": [{"input": {"n": 2**70}}]}), 422, "validation-error")
    assert field_of(body) == "cases.0.input.n" and "64 bits" in body["detail"]
    body = is_problem(await client.post(
        f"/datasets/{ds}/cases", content=b'{"cases": [{"input": {"x": 1e999}}]}',
        headers={"content-type": "application/json"}), 422, "validation-error")
    assert field_of(body) == "cases.0.input.x"


async def test_json_nested_deeper_than_the_limit_is_422(client):
    ds = await _dataset(client)
    deep: dict = {}
    for _ in range(300):  # orjson gives up at 255
        deep = {"a": deep}
    body = is_problem(await client.post(f"/datasets/{ds}/cases",
                                        json={"cases": [{"input": deep}]}),
                      422, "validation-error")
    assert "nested deeper" in body["detail"]
    very_deep = "[" * 5000 + "]" * 5000  # deeper than Python's json recursion
    is_problem(await client.post(f"/datasets/{ds}/cases", content=very_deep,
                                 headers={"content-type": "application/json"}),
               422, "validation-error")


async def test_explicit_null_in_patch_is_422_and_null_clears_only_nullable_fields(client):
    p = await make(client)
    a = (await client.post("/applications", json={
        "name": "app", "model_id": "echo", "prompt_id": p["id"], "top_p": 0.5})).json()
    for field in ("description", "fallback_models", "name", "prompt_id", "environment"):
        body = is_problem(await client.patch(f"/applications/{a['id']}", json={field: None}),
                          422, "validation-error")
        assert field_of(body) == field
    r = await client.patch(f"/applications/{a['id']}", json={"top_p": None})
    assert r.status_code == 200 and r.json()["top_p"] is None
    # null unsets the model and options an application may leave to its version's config
    r = await client.patch(f"/applications/{a['id']}", json={"max_tokens": None})
    assert r.status_code == 200 and r.json()["max_tokens"] is None
    ds = await _dataset(client)
    body = is_problem(await client.patch(f"/datasets/{ds}", json={"default_assert": None}),
                      422, "validation-error")
    assert field_of(body) == "default_assert"
    is_problem(await client.patch(f"/prompts/{p['id']}", json={"name": None}), 422,
               "validation-error")
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    props = schema["ApplicationPatch"]["properties"]
    assert "anyOf" not in props["description"] and props["description"]["type"] == "string"
    assert {"type": "null"} in props["top_p"]["anyOf"]


async def test_template_runtime_errors_render_as_422(client):
    for template, needle in (("{{ 1 / x }}", "ZeroDivisionError"),
                             ("{{ x.__class__.__mro__ }}", "SecurityError"),
                             ("{{ x.nope.deeper }}", "UndefinedError")):
        p = await make(client, name=f"p{len(needle)}{needle[:3]}", content=template)
        body = is_problem(await client.post(f"/prompts/{p['id']}/render",
                                            json={"variables": {"x": 0}}),
                          422, "template-error")
        assert needle in body["detail"] and body["field"] == "content"
    chat = await make(client, name="chat", content=[
        {"role": "system", "content": "ok"}, {"role": "user", "content": "{{ 1 / x }}"}])
    body = is_problem(await client.post(f"/prompts/{chat['id']}/render",
                                        json={"variables": {"x": 0}}), 422, "template-error")
    assert body["field"] == "messages[1].content"


@pytest.mark.parametrize("tag", ['{% include "other" %}', '{% import "m" as m %}',
                                 '{% from "m" import x %}', '{% extends "base" %}'])
async def test_composition_tags_are_refused_when_stored(client, tag):
    body = is_problem(await client.post("/prompts", json={"name": "c", "content": tag}), 422,
                      "invalid")
    assert body["field"] == "content" and "not supported" in body["detail"]
    p = await make(client, name="plain")
    is_problem(await client.post(f"/prompts/{p['id']}/versions", json={"content": tag}), 422,
               "invalid")


async def test_every_error_is_problem_json_even_an_unexpected_one(runtime):
    from fastapi import APIRouter

    from services.registry.app import create_app

    boom = APIRouter()

    @boom.get("/boom")
    async def _boom():
        raise RuntimeError("a bug")

    app = create_app(runtime=runtime, extra_routers=[boom])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://r") as c:
        r = await c.get("/boom", headers={"x-correlation-id": "cid-1"})
        body = is_problem(r, 500, "internal-error")
        assert body["correlation_id"] == "cid-1" and "a bug" not in r.text
        is_problem(await c.delete("/prompts"), 405, "method-not-allowed")
        body = is_problem(await c.post("/prompts", content=b"name=x",
                                       headers={"content-type": "text/plain"}),
                          415, "unsupported-media-type")


async def test_openapi_documents_problem_responses_on_every_operation(client):
    doc = (await client.get("/openapi.json")).json()
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    count = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status in ("401", "403", "404", "409", "413", "415", "422", "500"):
                content = op["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)
            count += 1
    assert count > 50


async def test_prompt_content_over_the_limit_is_413(client, monkeypatch):
    from harness.config import get_settings

    monkeypatch.setattr(get_settings(), "max_prompt_bytes", 1000)
    body = is_problem(await client.post("/prompts", json={"name": "big", "content": "x" * 1001}),
                      413, "content-too-large")
    assert body["field"] == "content"
    p = await make(client, content="x" * 1000)
    is_problem(await client.post(f"/prompts/{p['id']}/versions", json={
        "content": [{"role": "user", "content": "é" * 501}]}), 413, "content-too-large")


async def test_bodies_over_the_limit_are_413_counted_as_they_stream(live_url, monkeypatch):
    from harness.config import get_settings

    monkeypatch.setattr(get_settings(), "max_body_bytes", 10_000)
    monkeypatch.setattr(get_settings(), "max_upload_bytes", 50_000)
    big = json.dumps({"name": "n", "content": "x" * 20_000}).encode()

    async def chunks(data: bytes):  # no Content-Length: chunked transfer
        for i in range(0, len(data), 4096):
            yield data[i:i + 4096]

    async with httpx.AsyncClient(base_url=live_url, timeout=30) as c:
        r = await c.post("/prompts", content=big, headers={"content-type": "application/json"})
        body = is_problem(r, 413, "body-too-large")
        assert body["limit_bytes"] == 10_000
        r = await c.post("/prompts", content=chunks(big),
                         headers={"content-type": "application/json"})
        is_problem(r, 413, "body-too-large")
        ds = (await c.post("/datasets", json={"name": "d"})).json()["id"]
        csv = b"question\n" + b"what is it\n" * 3000  # 33 kB: under the upload limit
        r = await c.post(f"/datasets/{ds}/import", files={"file": ("a.csv", csv, "text/csv")})
        assert r.status_code == 201, r.text
        csv = b"question\n" + b"what is it\n" * 6000  # 66 kB
        files = httpx.Request("POST", "/", files={"file": ("a.csv", csv, "text/csv")})
        payload = files.read()
        r = await c.post(f"/datasets/{ds}/import", content=chunks(payload),
                         headers={"content-type": files.headers["content-type"]})
        is_problem(r, 413, "body-too-large")
        assert (await c.get(f"/datasets/{ds}")).json()["case_count"] == 3000
        assert (await c.get("/healthz")).status_code == 200


async def test_lists_carry_summaries_and_items_carry_content(client):
    content = "Hello {{ name }} " + "x" * 5000
    p = await make(client, content=content)
    await client.post(f"/prompts/{p['id']}/versions", json={"content": content + "!"})
    page = await client.get("/prompts")
    item = page.json()["items"][0]
    assert item["active"]["version"] == 1 and "content" not in item["active"]
    assert len(page.content) < 2000
    versions = (await client.get(f"/prompts/{p['id']}/versions")).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert all("content" not in v for v in versions)
    history = (await client.get(f"/prompts/{p['id']}/history")).json()["items"]
    assert all("content" not in h["data"] for h in history)
    assert (await client.get(f"/prompts/{p['id']}")).json()["active"]["content"] == content
    v2 = (await client.get(f"/prompts/{p['id']}/versions/2")).json()
    assert v2["content"] == content + "!"
    ds = await _dataset(client)
    await client.post(f"/datasets/{ds}/cases", json={"cases": [{"input": {"name": "a"}}]})
    r = await client.post("/runs", json={"dataset_id": ds, "targets": [{"prompt_id": p["id"]}],
                                         "models": ["echo"]})
    assert r.status_code == 202, r.text
    [listed] = (await client.get("/runs")).json()["items"]
    assert listed["targets"] and all("content" not in t for t in listed["targets"])
    full = (await client.get(f"/runs/{listed['id']}")).json()
    assert full["targets"][0]["content"] == content


async def test_generation_form_fields_with_nul_are_422(client):
    r = await client.post("/datasets", json={"name": "gen"})
    ds = r.json()["id"]
    body = is_problem(await client.post(f"/datasets/{ds}/generate",
                                        files={"files": ("a.txt", b"text", "text/plain")},
                                        data={"language": "Eng\x00lish"}),
                      422, "validation-error")
    assert field_of(body) == "language"


async def test_import_with_nul_in_a_cell_is_422_naming_the_case(client):
    ds = await _dataset(client)
    csv = b"question\nfine\nbad \x00 cell\n"
    body = is_problem(await client.post(f"/datasets/{ds}/import",
                                        files={"file": ("a.csv", csv, "text/csv")}),
                      422, "import-rejected")
    assert body["detail"].startswith("case 2: input.question")
    assert (await client.get(f"/datasets/{ds}")).json()["case_count"] == 0
