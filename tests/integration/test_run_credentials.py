"""Missing provider credentials are a configuration error: a run is refused at request time
when this process runs its targets (422 naming the model and the variable), and a call
that lacks them anyway fails once, in one line, without retries."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from harness.llm import LLMClient, LLMError, LLMRequest
from tests.support.runs import seed, wait_run

CASES = [{"input": {"city": "Paris"}, "assert": [{"type": "icontains", "value": "paris"}]}]


@pytest.fixture(autouse=True)
def _no_key(monkeypatch):
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


async def test_run_is_refused_at_request_time_naming_model_and_variable(stack_client):
    p, ds = await seed(stack_client, cases=CASES, versions=["About {{ city }}"])
    r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "echo"},
        {"prompt_id": p["id"], "model": "openai/gpt-4o-mini"}]})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "urn:harness:problem:missing-credentials"
    assert body["field"] == "targets.1.model" and body["model"] == "openai/gpt-4o-mini"
    assert body["env_vars"] == ["OPENAI_API_KEY"]
    assert "openai/gpt-4o-mini" in body["detail"] and "OPENAI_API_KEY" in body["detail"]
    assert (await stack_client.get("/runs")).json()["total"] == 0  # nothing half-written
    # a target whose chain has a model that can answer is accepted
    r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "model": "openai/gpt-4o-mini", "fallback_models": ["echo"]}]})
    assert r.status_code == 202, r.text
    run = await wait_run(stack_client, r.json()["id"])
    assert run["status"] == "completed" and run["passed"] == 1


async def test_a_registry_that_does_not_run_targets_accepts_and_the_result_says_why(
        stack, stack_client):
    """On GCP the registry has no provider keys (the runner has): it cannot refuse; the
    runner's result then says what is missing, in one line, after one attempt."""
    stack.runtime.calls_providers = False
    p, ds = await seed(stack_client, cases=CASES, versions=["About {{ city }}"])
    with capture_logs() as logs:
        r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/gpt-4o-mini"}]})
        assert r.status_code == 202, r.text
        run = await wait_run(stack_client, r.json()["id"])
    assert run["errors"] == 1
    [result] = (await stack_client.get(f"/runs/{run['id']}/results")).json()["items"]
    assert result["status"] == "error"
    assert "\n" not in result["error"] and "OPENAI_API_KEY" in result["error"]
    assert result["error"].startswith("config:") and "1 attempts" in result["error"]
    failed = [e for e in logs if e.get("event") == "llm.call_failed"]
    assert len(failed) == 1 and failed[0]["kind"] == "config" and not failed[0]["will_retry"]


async def test_llm_client_missing_key_is_one_config_error_and_falls_back():
    llm = LLMClient(backoff_base_s=0.01, backoff_max_s=0.02)
    msgs = [{"role": "user", "content": "hi"}]
    with pytest.raises(LLMError) as ei:
        await llm.complete(LLMRequest(model="anthropic/claude-3-5-haiku-latest",
                                      messages=msgs, max_retries=3))
    assert ei.value.kind == "config" and ei.value.attempts == 1
    assert "ANTHROPIC_API_KEY" in ei.value.message
    resp = await llm.complete(LLMRequest(model="openai/gpt-4o-mini", fallback_models=["echo"],
                                         messages=msgs, max_retries=3))
    assert resp.model == "echo" and resp.output == "hi" and resp.attempts == 2
    with pytest.raises(LLMError) as ei:
        await llm.embed(["x"], "openai/text-embedding-3-small", max_retries=3)
    assert ei.value.kind == "config" and ei.value.attempts == 1


async def test_a_key_from_the_servers_deployments_counts(stack_client, monkeypatch):
    from harness.config import get_settings

    monkeypatch.setenv("HARNESS_LLM_DEPLOYMENTS",
                       ('{"openai/gpt-4o-mini": {"api_key": "sk-from-deployments", '
                        '"api_base": "http://127.0.0.1:9/v1"}}'))  # never reached
    get_settings.cache_clear()
    try:
        p, ds = await seed(stack_client, cases=CASES, versions=["About {{ city }}"])
        r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/gpt-4o-mini"}]})
        assert r.status_code == 202, r.text
        await stack_client.post(f"/runs/{r.json()['id']}/cancel", json={"reason": "enough"})
        r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/gpt-4.1-nano"}]})
        assert r.status_code == 422 and r.json()["env_vars"] == ["OPENAI_API_KEY"]
    finally:
        monkeypatch.delenv("HARNESS_LLM_DEPLOYMENTS")
        get_settings.cache_clear()


async def test_generation_is_refused_at_request_time_too(stack_client):
    ds = (await stack_client.post("/datasets", json={"name": "synthetic"})).json()
    r = await stack_client.post(
        f"/datasets/{ds['id']}/generate",
        data={"num_questions": "2", "model": "anthropic/claude-3-5-haiku-latest"},
        files=[("files", ("faq.txt", b"Refunds take five days.", "text/plain"))])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "urn:harness:problem:missing-credentials"
    assert body["field"] == "model" and body["env_vars"] == ["ANTHROPIC_API_KEY"]
    listed = await stack_client.get(f"/datasets/{ds['id']}/generations")
    assert listed.json()["total"] == 0
