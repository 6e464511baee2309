"""The gateway as its own service (``python -m services.gateway``, Cloud Run): its own
runtime on the registry's database; a prompt activated through the registry changes the
gateway's next answer (the registry's notifications reach the gateway's resolve cache)."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from harness.config import Settings
from services.bootstrap import gateway_service
from services.gateway.config import GatewaySettings
from services.gateway.keys import create_key
from tests.support.serving import serve_app
from tests.support.stub_llm import StubLLM


@pytest.fixture
async def service(db_url, runtime):
    """The gateway service (lifespan on) beside the registry's ``runtime`` on one db."""
    async with StubLLM() as stub:
        app = gateway_service(
            Settings(database_url=db_url, pool_max_size=5),
            GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                               "api_key": "sk-test"}},
                            num_retries=0, trace_flush_s=0.05))
        async with serve_app(app, lifespan="on") as url:
            yield app, url, stub


async def test_gateway_service_follows_the_registry(service, client, runtime):
    app, url, stub = service
    stub.reply("m", lambda body: body["messages"][0]["content"])
    secret, _ = await create_key(runtime.pool, "svc")
    p = (await client.post("/prompts", json={"name": "greet",
                                             "content": [{"role": "system",
                                                          "content": "v1 {{ x }}"}]})).json()
    r = await client.post("/applications", json={"name": "greeter", "model_id": "openai/m",
                                                  "prompt_id": p["id"]})
    assert r.status_code == 201, r.text
    sdk = openai.AsyncOpenAI(base_url=url + "/v1", api_key=secret, max_retries=0)
    async with httpx.AsyncClient(timeout=60, base_url=url) as h:
        assert (await h.get("/readyz")).json() == {"status": "ready"}
        assert (await h.get("/prompts")).status_code == 404  # the registry API is not here

    async def ask() -> str:
        c = await sdk.chat.completions.create(model="app/greeter", extra_body={
            "variables": {"x": "hi"}}, messages=[{"role": "user", "content": "q"}])
        return c.choices[0].message.content

    assert await ask() == "v1 hi"
    r = await client.post(f"/prompts/{p['id']}/versions", json={
        "content": [{"role": "system", "content": "v2 {{ x }}"}], "activate": True})
    assert r.status_code in (200, 201), r.text
    for _ in range(600):  # the notification crosses processes asynchronously
        if await ask() == "v2 hi":
            break
        await asyncio.sleep(0.05)
    assert await ask() == "v2 hi"
    gw = app.state.gateway
    await gw.traces.flush()
    versions = [r["prompt_version"] for r in await runtime.pool.fetch(
        "SELECT prompt_version FROM gateway_traces ORDER BY created_at")]
    assert versions[0] == 1 and versions[-1] == 2


async def test_the_gateways_resolve_answers_the_registrys_errors_as_problems(runtime):
    """The gateway service has none of the registry's error handlers: what the registry's
    resolve query refuses reaches it as a problem (an application deleted between its
    lookup and its resolve is a 404, not a 500)."""
    import uuid

    from harness.web.problems import ProblemError
    from services.bootstrap import resolve_application

    with pytest.raises(ProblemError) as caught:
        await resolve_application(runtime.pool, str(uuid.uuid4()))
    assert (caught.value.status, caught.value.slug) == (404, "not-found")
