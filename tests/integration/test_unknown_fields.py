"""No field is silently dropped (issue 18 item 1): a request body with a field the API
does not know is a 422 naming it, nothing is stored, and the OpenAPI document says so
(``additionalProperties: false`` on every request body)."""

from __future__ import annotations

import httpx
import pytest

from services.bootstrap import gateway_app
from services.gateway.config import GatewaySettings
from services.gateway.keys import create_key
from services.registry.trace_ingest import trace_ingest_router
from tests.integration.test_prompts_api import is_problem, make

UNKNOWN = "unknown field"


@pytest.fixture
async def gw_client(runtime):
    """The registry with the gateway mounted (and the trace ingest route), in process."""
    app = gateway_app(runtime, GatewaySettings())
    app.include_router(trace_ingest_router())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as c:
        yield c


def refused(r: httpx.Response, field: str) -> dict:
    body = is_problem(r, 422, "validation-error")
    named = {e["field"]: e["message"] for e in body["errors"]}
    assert named.get(field, "").startswith(UNKNOWN), body
    assert f"{field}: {UNKNOWN}" in body["detail"]
    return body


async def test_a_prompt_version_config_is_kept_and_its_unknown_keys_refused(client):
    p = await make(client, content="Hello {{ name }}")
    r = await client.post(f"/prompts/{p['id']}/versions", json={
        "content": "Hi {{ name }}", "config": {"model": "gpt-4o", "temprature": 0}})
    refused(r, "config.temprature")
    assert (await client.get(f"/prompts/{p['id']}")).json()["latest_version"] == 1
    r = await client.post(f"/prompts/{p['id']}/versions", json={
        "content": "Hi {{ name }}", "config": {"model": "gpt-4o", "temperature": 0}})
    assert r.status_code == 201 and r.json()["config"] == {"model": "gpt-4o", "temperature": 0}
    r = await client.post("/prompts", json={"name": "t", "content": "x", "tools": []})
    body = refused(r, "tools")
    # a model option beside the content (a chat request's habit) says where it belongs
    assert body["errors"][0]["message"].endswith("; it belongs in config.tools")
    r = await client.post(f"/prompts/{p['id']}/versions", json={
        "content": "x", "temperature": 0, "response_format": {"type": "json_object"},
        "chane_note": "typo"})
    named = {e["field"]: e["message"] for e in refused(r, "temperature")["errors"]}
    assert named["temperature"].endswith("; it belongs in config.temperature")
    assert named["response_format"].endswith("; it belongs in config.response_format")
    assert named["chane_note"].endswith("(nothing was stored)")  # a typo: no hint
    r = await client.post("/applications", json={"name": "a", "model_id": "echo",
                                                  "prompt_id": p["id"], "tools": []})
    assert refused(r, "tools")["errors"][0]["message"].endswith("(nothing was stored)")
    assert (await client.get("/prompts")).json()["total"] == 1
    assert (await client.get(f"/prompts/{p['id']}")).json()["latest_version"] == 2
    r = await client.post("/prompts", json={"name": "m", "content": [
        {"role": "user", "content": "hi", "name": "kim"}]})
    body = is_problem(r, 422, "validation-error")  # content: a string, or messages
    assert {"field": "content.0.name", "location": "body",
            "message": body["errors"][-1]["message"]} in body["errors"]
    assert body["errors"][-1]["message"].startswith(UNKNOWN)


# (method, path, body, the unknown field as named); ids are made up: the body is refused
# before anything is looked up
REGISTRY = [
    ("PATCH", "/prompts/p", {"nmae": "x"}, "nmae"),
    ("PUT", "/prompts/p/versions/1/activate", {"reason": "r", "force": True}, "force"),
    ("POST", "/prompts/p/render", {"variables": {}, "vars": {}}, "vars"),
    ("POST", "/applications", {"name": "a", "model_id": "echo", "prompt_id": "p",
                               "temprature": 0}, "temprature"),
    ("PATCH", "/applications/a", {"modle_id": "x"}, "modle_id"),
    ("POST", "/datasets", {"name": "d", "kind": "golden"}, "kind"),
    ("PATCH", "/datasets/d", {"verified": True}, "verified"),
    ("POST", "/datasets/d/cases", {"cases": [{"input": {}}], "dedupe": True}, "dedupe"),
    ("POST", "/datasets/d/cases", {"cases": [{"inputs": {}}]}, "cases.0.inputs"),
    ("PATCH", "/datasets/d/cases/c", {"expected": "x"}, "expected"),
    ("POST", "/datasets/d/verify", {"note": "ok", "by": "kim"}, "by"),
    ("POST", "/datasets/d/review", {"decisions": [
        {"case_id": "c", "decision": "accept", "why": "x"}]}, "decisions.0.why"),
    ("POST", "/datasets/d/review", {"decisions": [{"case_id": "c", "decision": "accept"}],
                                    "all": True}, "all"),
    ("POST", "/datasets/d/promote", {"source_dataset_id": "s", "case_ids": ["c"],
                                     "move": True}, "move"),
    ("POST", "/runs", {"dataset_id": "d", "targets": [{"prompt_id": "p"}], "retries": 2},
     "retries"),
    ("POST", "/runs", {"dataset_id": "d", "targets": [{"prompt_id": "p", "temperature": 0}]},
     "targets.0.temperature"),
    ("POST", "/runs/import", {"dataset_id": "d", "targets": [{}], "results": [],
                              "when": "now"}, "when"),
    ("POST", "/generations/g/cancel", {"reason": "r", "now": True}, "now"),
    ("PUT", "/prompts/p/environments/staging", {"version": 1, "note": "x"}, "note"),
    ("PUT", "/prompts/p/policy", {"require_approvals": True}, "require_approvals"),
    ("PUT", "/policy", {"gate": {"dataset_id": "d", "min_pass": 0.9}}, "gate.min_pass"),
    ("POST", "/prompts/p/promotions", {"version": 2, "approver": "kim"}, "approver"),
    ("POST", "/prompts/p/promotions", {"version": 2, "run_gate": {"model": "m", "seed": 1}},
     "run_gate.seed"),
    ("POST", "/prompts/p/promotions/x/approve", {"comment": "ok", "as": "kim"}, "as"),
    ("POST", "/prompts/p/promotions/x/reject", {"comments": "no"}, "comments"),
]

GATEWAY = [
    ("POST", "/gateway/keys", {"name": "k", "role": "admin"}, "role"),
    ("POST", "/gateway/alerts", {"scope": "total", "period": "day", "threshold_usd": 1,
                                 "email": "ops@example.com"}, "email"),
    ("POST", "/traces", {"traces": [{"id": "x", "traces": []}]}, "traces.0.traces"),
]


async def test_every_json_body_refuses_unknown_fields(gw_client):
    for method, path, body, field in REGISTRY + GATEWAY:
        refused(await gw_client.request(method, path, json=body), field)


async def test_multipart_forms_refuse_unknown_fields(client):
    """Form fields too (a typo such as ``num_question`` used to generate 10 cases)."""
    ds = (await client.post("/datasets", json={"name": "d"})).json()
    doc = [("files", ("a.txt", b"Some text about shipping.", "text/plain"))]
    r = await client.post(f"/datasets/{ds['id']}/generate", files=doc,
                          data={"num_question": "3"})
    refused(r, "num_question")
    assert (await client.get(f"/datasets/{ds['id']}/generations")).json()["total"] == 0
    r = await client.post(f"/datasets/{ds['id']}/import", data={"format": "csv"},
                          files={"file": ("c.csv", b"q\nhello\n", "text/csv")})
    refused(r, "format")
    assert (await client.get(f"/datasets/{ds['id']}")).json()["case_count"] == 0


async def test_openai_bodies_keep_their_allowlist(gw_client, runtime):
    """``/v1/*`` bodies are OpenAI's: their fields are an allowlist (OpenAI's request
    fields and the LLM options), and anything else is a 422 naming it."""
    secret, _ = await create_key(runtime.pool, "k")
    auth = {"authorization": f"Bearer {secret}"}
    r = await gw_client.post("/v1/chat/completions", headers=auth, json={
        "model": "echo", "messages": [{"role": "user", "content": "hi"}], "temprature": 0})
    assert r.status_code == 422 and r.json()["field"] == "temprature", r.text
    r = await gw_client.post("/v1/embeddings", headers=auth,
                             json={"model": "m", "input": "x", "user_id": 1})
    assert r.status_code == 422 and r.json()["field"] == "user_id", r.text


def _request_schemas(doc: dict) -> list[tuple[str, dict]]:
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                out.append((f"{method.upper()} {path} ({media})", content["schema"]))
    return out


def _objects(schema: dict, components: dict, seen: set[str]):
    """Every object schema reachable from ``schema`` (through $ref, anyOf, items, ...)."""
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            yield from _objects(components[name], components, seen)
        return
    if schema.get("type") == "object" and "properties" in schema:
        yield schema
        for prop in schema["properties"].values():
            yield from _objects(prop, components, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from _objects(option, components, seen)
    if isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"], components, seen)


async def test_openapi_says_every_request_body_is_closed(gw_client):
    doc = (await gw_client.get("/openapi.json")).json()
    components = doc["components"]["schemas"]
    checked = 0
    for where, schema in _request_schemas(doc):
        for obj in _objects(schema, components, set()):
            assert obj.get("additionalProperties") is False, (where, obj.get("title"))
            checked += 1
    assert checked >= 30
