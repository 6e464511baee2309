"""Provider credentials go only where an admin sent them: a run's target params, its judge
params, a generation's params and a gateway client's request carry LLM options only. A
request naming a listener as ``api_base`` is refused (422 naming the field) and the
listener receives nothing; a key in any case (``API_KEY``) is refused and never stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.events import EventMetadata
from harness.events.run_events import RunRequested
from services.gateway.config import GatewaySettings
from tests.support.gateway import serve_gateway
from tests.support.http_receiver import HttpReceiver
from tests.support.runs import seed, wait_run
from tests.support.stub_llm import StubLLM

DOC = Path(__file__).resolve().parents[1] / "data" / "generation" / "shipping.txt"
SECRET = "sk-live-do-not-store"


@pytest.fixture(autouse=True)
def _server_key(monkeypatch):
    # the server's own provider key: what a foreign api_base would receive
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


async def _stored_anywhere(pool, text: str) -> int:
    return await pool.fetchval(
        "SELECT (SELECT count(*) FROM events WHERE data::text ILIKE '%' || $1 || '%') + "
        "(SELECT count(*) FROM runs WHERE targets::text ILIKE '%' || $1 || '%' "
        " OR config::text ILIKE '%' || $1 || '%')", text)


async def test_runs_judges_and_generations_refuse_endpoints_and_keys_in_any_case(
        stack, stack_client):
    c = stack_client
    p, ds = await seed(c, cases=[{"input": {"q": "a"}}], versions=["{{ q }}"])
    with HttpReceiver() as rx:
        target = {"prompt_id": p["id"], "model": "openai/gpt-4o-mini"}
        refused = [
            ({"targets": [{**target, "params": {"api_base": rx.url + "/v1"}}]},
             "targets.0.params.api_base"),
            ({"targets": [target, {**target, "params": {"temperature": 0, "API_KEY": SECRET}}]},
             "targets.1.params.API_KEY"),
            ({"targets": [{**target, "params": {"Base_URL": rx.url}}]},
             "targets.0.params.Base_URL"),
            ({"targets": [{**target, "params": {"extra_headers": {"x": "y"}}}]},
             "targets.0.params.extra_headers"),
            ({"targets": [{**target, "params": {"aws_secret_access_key": SECRET}}]},
             "targets.0.params.aws_secret_access_key"),
            ({"targets": [{**target, "params": {"mock_response": "free"}}]},
             "targets.0.params.mock_response"),
            ({"targets": [target], "metrics": ["faithfulness"], "judge_model": "openai/judge",
              "judge_params": {"api_base": rx.url + "/v1"}}, "judge_params.api_base"),
            ({"targets": [target], "metrics": ["faithfulness"],
              "judge_params": {"Api_Key": SECRET}}, "judge_params.Api_Key"),
        ]
        for extra, field in refused:
            r = await c.post("/runs", json={"dataset_id": ds["id"], **extra})
            assert r.status_code == 422, (extra, r.text)
            problem = r.json()
            assert problem["field"] == field, problem
            assert field in problem["detail"]
            assert SECRET not in r.text
        r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {**target, "params": {"api_base": rx.url}}]})
        assert "server configuration" in r.json()["detail"]
        r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {**target, "params": {"temprature": 0}}]})
        assert "not an allowed LLM option" in r.json()["detail"]
        assert "temperature" in r.json()["detail"]  # the allowed names are listed

        for params, field in [({"api_base": rx.url + "/v1"}, "params.api_base"),
                              ({"API_KEY": SECRET}, "params.API_KEY")]:
            r = await c.post(f"/datasets/{ds['id']}/generate", data={
                "model": "openai/writer", "params": json.dumps(params)},
                files=[("files", ("shipping.txt", DOC.read_bytes(), "text/plain"))])
            assert r.status_code == 422 and r.json()["field"] == field, r.text

        # allowed options still run (on the endpoint the server configured)
        with StubLLM() as stub:
            stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
            r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
                {**target, "params": {"temperature": 0.1, "seed": 7, "stop": ["\n\n"],
                                      "max_completion_tokens": 50}}]})
            assert r.status_code == 202, r.text
            assert (await wait_run(c, r.json()["id"]))["status"] == "completed"
            sent = stub.chat_requests[-1].body
            assert (sent["seed"], sent["stop"], sent["max_completion_tokens"]) == (
                7, ["\n\n"], 50)
    assert rx.requests == []  # the listener never heard from us
    assert (await c.get("/runs")).json()["total"] == 1  # only the allowed run
    assert await _stored_anywhere(stack.runtime.pool, SECRET) == 0
    assert await _stored_anywhere(stack.runtime.pool, rx.url) == 0


async def test_import_refuses_credentials_and_old_runs_show_them_masked(runtime, client):
    c = client  # the registry alone: nothing runs the old run
    p, ds = await seed(c, cases=[{"input": {"q": "a"}}], versions=["{{ q }}"])
    target = {"target_id": "t0", "label": "x", "prompt_id": p["id"], "prompt_version": 1,
              "content": "{{ q }}", "model": "echo", "params": {"api_key": SECRET}}
    r = await c.post("/runs/import", json={"dataset_id": ds["id"], "targets": [target],
                                           "results": []})
    assert r.status_code == 422 and r.json()["field"] == "targets.0.params.api_key", r.text

    # a run recorded before the allowlist existed: its stored key is never shown
    event = RunRequested(run_id="old-run", dataset_id=ds["id"], dataset_name="d",
                         snapshot_uri="file:///nowhere", snapshot_sha256="0" * 64,
                         case_count=1, targets=[{**target, "params": {
                             "API_KEY": SECRET, "temperature": 0}}],
                         judge_params={"api_base": "http://evil.example"}, source="import")
    await runtime.commands.record_facts("run-old-run", [event], [None],
                                              EventMetadata(actor="old"))
    for path in ("/runs/old-run", "/runs", "/events", "/runs/old-run/export",
                 "/runs/old-run/summary"):
        r = await c.get(path)
        assert r.status_code == 200 and SECRET not in r.text and "evil.example" not in r.text
    run = (await c.get("/runs/old-run")).json()
    assert run["targets"][0]["params"] == {"API_KEY": "***", "temperature": 0}
    assert run["config"]["judge_params"] == {"api_base": "***"}


async def test_gateway_clients_cannot_choose_the_endpoint_or_send_credentials(runtime):
    with HttpReceiver() as rx:
        async with StubLLM() as stub:
            settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                          "api_key": "sk-server"}},
                                       num_retries=0, trace_flush_s=0.05)
            async with serve_gateway(runtime, settings) as gw:
                key = await gw.key()
                auth = {"Authorization": f"Bearer {key}"}
                msgs = [{"role": "user", "content": "hi"}]
                async with gw.http() as h:
                    for extra in ({"api_base": rx.url + "/v1"}, {"base_url": rx.url},
                                  {"API_KEY": "sk-x"}, {"api_key": "sk-x"},
                                  {"extra_headers": {"x": "1"}}, {"headers": {"x": "1"}},
                                  {"custom_llm_provider": "openai"},
                                  {"input_cost_per_token": 0}, {"mock_response": "free"}):
                        [name] = extra
                        r = await h.post("/v1/chat/completions", headers=auth, json={
                            "model": "openai/m", "messages": msgs, **extra})
                        assert r.status_code == 422, (extra, r.text)
                        body = r.json()
                        assert body["field"] == name and name in body["error"]["message"]
                    r = await h.post("/v1/embeddings", headers=auth, json={
                        "model": "openai/e", "input": "x", "api_base": rx.url})
                    assert r.status_code == 422 and r.json()["field"] == "api_base"
                    assert stub.requests == []

                    # standard OpenAI fields still reach the provider
                    r = await h.post("/v1/chat/completions", headers=auth, json={
                        "model": "openai/m", "messages": msgs, "reasoning_effort": "low",
                        "seed": 3, "service_tier": "auto", "user": "u1"})
                    assert r.status_code == 200, r.text
                    sent = stub.chat_requests[-1]
                    assert (sent.body["reasoning_effort"], sent.body["seed"]) == ("low", 3)
                    assert sent.headers.get("authorization") == "Bearer sk-server"
    assert rx.requests == []


async def test_the_runner_ignores_endpoints_in_a_request_recorded_before_the_allowlist(
        stack, stack_client):
    c = stack_client
    p, ds = await seed(c, cases=[{"input": {"q": "a"}}], versions=["{{ q }}"])
    with HttpReceiver() as rx, StubLLM() as stub:
        stack.runner.llm.deployments["*"] = {"api_base": stub.base_url}
        r = await c.post("/runs", json={"dataset_id": ds["id"], "targets": [
            {"prompt_id": p["id"], "model": "openai/m"}]})
        first = await wait_run(c, r.json()["id"])
        [req] = [e for e in await stack.runtime.store.read_stream(f"run-{first['id']}")
                 if e.type == "RunRequested"]
        old = RunRequested.model_validate({
            **req.data, "run_id": "old-run", "shards": 0,  # recorded before sharding too
            "targets": [{**t, "params": {"api_base": rx.url + "/v1", "API_KEY": SECRET,
                                         "temperature": 0}} for t in req.data["targets"]],
            "judge_params": {"api_base": rx.url + "/v1"}})
        await stack.runtime.commands.record_facts("run-old-run", [old], [None],
                                                  EventMetadata(actor="old"))
        done = await wait_run(c, "old-run")
        assert done["status"] == "completed", done
        assert len(stub.chat_requests) == 2  # the configured endpoint answered both runs
        assert "API_KEY" not in stub.chat_requests[-1].body
        assert stub.chat_requests[-1].body["temperature"] == 0
    assert rx.requests == []
