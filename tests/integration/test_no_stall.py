"""Nothing one request does stalls the server: a hostile template or regex is answered
with a clear error while health checks go on (ordering, not wall-clock thresholds)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from harness import templating
from harness.assertions import AssertionContext, evaluate_assertion
from harness.config import get_settings


@pytest.fixture
def settings_env(monkeypatch):
    """Set HARNESS_* variables for one test (the settings are cached)."""

    def set_env(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(f"HARNESS_{k.upper()}", v)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


# 9 million loop iterations: seconds of CPU without a budget; stopped at its step budget.
NESTED_LOOPS = "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}"


async def _healthz_while(client, slow: asyncio.Task, started: threading.Event | None = None):
    """/healthz answers while ``slow`` is still running (after its slow part started)."""
    await asyncio.sleep(0)  # let the slow request start
    while started is not None and not started.is_set():
        await asyncio.sleep(0.001)
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert not slow.done(), "the slow request finished before /healthz was answered"


async def test_hostile_template_is_a_422_and_healthz_answers_meanwhile(
    client, settings_env, monkeypatch
):
    # a budget large enough that the render is surely still running when /healthz returns
    settings_env(render_max_steps="4000000", render_timeout_s="120")
    started = threading.Event()
    render = templating.render

    def render_and_tell(*args, **kwargs):
        started.set()
        return render(*args, **kwargs)

    monkeypatch.setattr(templating, "render", render_and_tell)
    r = await client.post("/prompts", json={"name": "loops", "content": NESTED_LOOPS})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]

    slow = asyncio.create_task(client.post(f"/prompts/{pid}/render", json={"variables": {}}))
    await _healthz_while(client, slow, started)
    r = await slow
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["type"] == "urn:harness:problem:render-budget-exceeded"
    assert body["bound"] == "steps" and "4000000 steps" in body["detail"]


async def test_hostile_regex_fails_with_a_reason_and_healthz_answers_meanwhile(
    client, settings_env
):
    # ^(a|a)+$ on 24 a's and a b: over a second of backtracking in Python's re and more
    # in the regex engine; with a timeout well below that it gives up, in a worker thread
    settings_env(regex_timeout_s="0.2")
    slow = asyncio.create_task(evaluate_assertion(
        {"type": "regex", "value": "^(a|a)+$"}, "a" * 24 + "b", AssertionContext()))
    await _healthz_while(client, slow)
    result = await slow
    assert not result.passed and result.error
    assert "gave up after 0.2 s" in result.reason


async def test_hostile_template_through_the_gateway_is_a_422_with_the_openai_error(
    runtime, settings_env
):
    from services.gateway.config import GatewaySettings
    from tests.support.gateway import serve_gateway

    settings_env(render_max_steps="1000")
    async with serve_gateway(runtime, GatewaySettings()) as gw, gw.http() as h:
        p = (await h.post("/prompts", json={"name": "loops", "content": NESTED_LOOPS})).json()
        r = await h.post("/applications", json={"name": "loops", "model_id": "echo",
                                                "prompt_id": p["id"]})
        assert r.status_code == 201, r.text
        key = await gw.key(applications=["loops"])
        r = await h.post("/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                         json={"model": "app/loops", "messages": [{"role": "user",
                                                                    "content": "hi"}]})
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "render-budget-exceeded" and "1000 steps" in error["message"]
        assert (await h.get("/healthz")).status_code == 200
