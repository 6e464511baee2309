"""Version config (issue 18 item 2) over HTTP on real Postgres: a version's model and LLM
options are stored with the version, checked strictly, diffed, resolved, and used by the
gateway's ``app/<name>`` and by runs with request > application > version config >
defaults."""

from __future__ import annotations

import pytest

from tests.support.runs import seed, wait_run

LOOKUP = {"type": "function", "function": {
    "name": "lookup_order", "description": "find an order",
    "parameters": {"type": "object", "properties": {"id": {"type": "string"}},
                   "required": ["id"]}}}
ORDER = {"type": "json_schema", "json_schema": {
    "name": "order", "strict": True,
    "schema": {"type": "object", "properties": {"id": {"type": "string"}},
               "required": ["id"], "additionalProperties": False}}}
CONFIG = {"model": "openai/backup", "temperature": 0.3, "seed": 7, "tools": [LOOKUP],
          "tool_choice": "auto", "response_format": ORDER}


def problem(r, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


async def test_config_is_stored_inherited_cleared_diffed_and_in_history(client):
    r = await client.post("/prompts", json={"name": "orders", "content": "Find {{ q }}",
                                            "config": CONFIG})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["active"]["config"] == CONFIG
    pid = p["id"]
    # left out: the version it derives from keeps its config
    v2 = (await client.post(f"/prompts/{pid}/versions", json={"content": "Find {{ q }}!"}))
    assert v2.status_code == 201 and v2.json()["config"] == CONFIG
    # a changed config alone is a new version
    v3 = await client.post(f"/prompts/{pid}/versions", json={
        "content": "Find {{ q }}!", "config": {"model": "openai/primary", "temperature": 0.3,
                                               "stop": ["\n\n"]}})
    assert v3.status_code == 201, v3.text
    # {} clears it
    v4 = await client.post(f"/prompts/{pid}/versions", json={"content": "x", "config": {}})
    assert v4.json()["config"] == {}
    got = (await client.get(f"/prompts/{pid}/versions/3")).json()
    assert got["config"] == {"model": "openai/primary", "temperature": 0.3, "stop": ["\n\n"]}
    assert (await client.get(f"/prompts/{pid}/versions/1")).json()["config"] == CONFIG

    d = (await client.get(f"/prompts/{pid}/diff", params={"from": 2, "to": 3})).json()
    assert d["diff"] == ""  # same content
    assert d["config_changed"] == ["model", "response_format", "seed", "stop", "tool_choice",
                                   "tools"]
    assert '-  "model": "openai/backup"' in d["config_diff"]
    assert '+  "model": "openai/primary"' in d["config_diff"]
    assert d["config_diff"].startswith("--- v2 config\n+++ v3 config\n")
    same = (await client.get(f"/prompts/{pid}/diff", params={"from": 1, "to": 2})).json()
    assert same["config_diff"] == "" and same["config_changed"] == []

    history = (await client.get(f"/prompts/{pid}/history")).json()["items"]
    created = [h for h in history if h["type"] == "PromptVersionCreated"]
    assert [h["data"]["config"] for h in created][2:] == [got["config"], {}]
    # the read model and the folded state agree (as_of replays the events)
    as_of = (await client.get(f"/prompts/{pid}", params={"as_of": "2100-01-01T00:00:00Z"}))
    assert as_of.json()["active"]["config"] == CONFIG
    # render answers the messages with the config to call the model with
    rendered = (await client.post(f"/prompts/{pid}/render",
                                  json={"variables": {"q": "it"}, "version": 3})).json()
    assert rendered["messages"] == [{"role": "user", "content": "Find it!"}]
    assert rendered["config"] == got["config"]


@pytest.mark.parametrize("config, field, words", [
    ({"model": "m", "temprature": 0.2, "foo": 1}, "config", ["foo", "temprature"]),
    ({"api_base": "http://evil", "model": "m"}, "config", ["api_base"]),
    ({"tools": {"name": "x"}}, "config.tools", ["list"]),
    ({"tools": [{"type": "function", "function": {"name": "a b"}}]},
     "config.tools.0.function.name", ["pattern"]),
    ({"tools": [{"type": "retrieval"}]}, "config.tools.0.type", ["function"]),
    ({"tools": [LOOKUP, LOOKUP]}, "config.tools.1.function.name", ["duplicate"]),
    ({"tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "strng"}}}}}]},
     "config.tools.0.function.parameters", ["JSON Schema"]),
    ({"tools": [LOOKUP], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "config.tool_choice.function.name", ["nope", "lookup_order"]),
    ({"tool_choice": "required"}, "config.tool_choice", ["needs tools"]),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "o", "schema": {"type": "objekt"}}}},
     "config.response_format.json_schema.schema", ["JSON Schema"]),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "o"}}},
     "config.response_format.json_schema.schema", ["Field required"]),
    ({"response_format": {"type": "xml"}}, "config.response_format.type", []),
    ({"temperature": 3}, "config.temperature", []),
    ({"max_completion_tokens": 0}, "config.max_completion_tokens", ["greater than"]),
    ({"parallel_tool_calls": True}, "config.parallel_tool_calls", ["needs tools"]),
    # never coerced (schemathesis: parallel_tool_calls 0 was stored as false)
    ({"tools": [LOOKUP], "parallel_tool_calls": 0}, "config.parallel_tool_calls",
     ["boolean"]),
    ({"temperature": "0.5"}, "config.temperature", ["number"]),
    ({"seed": "7"}, "config.seed", ["integer"]),
    ({"logprobs": "yes"}, "config.logprobs", ["boolean"]),
    ({"tools": [{"type": "function", "function": {"name": "f", "strict": 1}}]},
     "config.tools.0.function.strict", ["boolean"]),
])
async def test_bad_configs_are_422_naming_what_and_nothing_is_written(client, config, field,
                                                                      words):
    p = (await client.post("/prompts", json={"name": "p", "content": "x"})).json()
    before = (await client.get("/events")).json()["items"]
    for r in (await client.post(f"/prompts/{p['id']}/versions",
                                json={"content": "y", "config": config}),
              await client.post("/prompts", json={"name": "q", "content": "y",
                                                  "config": config})):
        body = problem(r, 422)
        fields = [e["field"] for e in body.get("errors", [])] or [body.get("field")]
        text = r.text
        assert any(f == field or f.startswith(field + ".")
                   for f in fields), (fields, field)
        for word in words:
            assert word in text, (word, text)
    assert (await client.get("/events")).json()["items"] == before


async def test_resolved_returns_the_config_and_what_is_in_effect(client):
    p = (await client.post("/prompts", json={"name": "p", "content": "Hi",
                                             "config": CONFIG})).json()
    a = (await client.post("/applications", json={"name": "bot", "prompt_id": p["id"]})).json()
    assert (a["model_id"], a["temperature"], a["max_tokens"]) == (None, None, None)
    r = (await client.get(f"/applications/{a['id']}/resolved")).json()
    assert r["config"] == CONFIG and r["model"] == "openai/backup"
    assert r["params"] == {"temperature": 0.3, "max_tokens": 1024, "seed": 7,
                           "tools": [LOOKUP], "tool_choice": "auto", "response_format": ORDER}
    # the application's settings go over the version's config
    await client.patch(f"/applications/{a['id']}", json={"model_id": "echo", "temperature": 0})
    r = (await client.get(f"/applications/{a['id']}/resolved")).json()
    assert (r["model"], r["params"]["temperature"], r["params"]["seed"]) == ("echo", 0, 7)
    # as of now, folded from the events: the same answer
    folded = (await client.get(f"/applications/{a['id']}/resolved",
                               params={"as_of": "2100-01-01T00:00:00Z"})).json()
    assert (folded["model"], folded["params"], folded["config"]) == (
        r["model"], r["params"], r["config"])
    # no model on either side: refused when the application says so ...
    await client.patch(f"/applications/{a['id']}", json={"model_id": None})
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "Yo", "config": {}})
    q = (await client.post("/prompts", json={"name": "q", "content": "Hi"})).json()
    for r in (await client.post("/applications", json={"name": "b2", "prompt_id": q["id"]}),
              await client.patch(f"/applications/{a['id']}", json={"prompt_id": q["id"]})):
        assert problem(r, 422)["field"] == "model_id"
    # ... and a 409 (not a guess) when its environment moves to a version without one
    await client.put(f"/prompts/{p['id']}/versions/2/activate", json={})
    body = problem(await client.get(f"/applications/{a['id']}/resolved"), 409)
    assert body["type"] == "urn:harness:problem:model-unset"


async def test_old_versions_without_config_still_load(client, runtime):
    """A PromptVersionCreated stored before ``config`` existed reads as no config, and a
    version derived from it has none."""
    from harness.events.envelope import NewEvent
    from services.registry.read import projections

    stored = await runtime.store.append("prompt-old", 0, [
        NewEvent(type="PromptCreated", data={"prompt_id": "old", "name": "old"}),
        NewEvent(type="PromptVersionCreated", schema_version=2, data={
            "prompt_id": "old", "version": 1, "content": "Hi", "variables": [],
            "change_note": "", "derived_from": None}),
        NewEvent(type="PromptVersionActivated", data={"prompt_id": "old", "version": 1})])
    async with runtime.pool.acquire() as conn:
        for ev in stored:
            await projections.apply(conn, ev)
    assert (await client.get("/prompts/old/versions/1")).json()["config"] == {}
    v2 = await client.post("/prompts/old/versions", json={"content": "Yo"})
    assert v2.status_code == 201 and v2.json()["config"] == {}


# ---- where a version runs: request > application > version config > defaults ------

async def test_gateway_app_precedence_each_level_wins(gw, stub):
    stub.reply("primary", "from primary")
    stub.reply("backup", "from backup")
    key = await gw.key(applications=["bot"])
    client = gw.sdk(key)
    async with gw.http() as h:
        p = (await h.post("/prompts", json={"name": "bot-prompt", "content": "Be brief.",
                                            "config": CONFIG})).json()
        a = (await h.post("/applications", json={"name": "bot", "prompt_id": p["id"]})).json()

        async def call(**extra):
            r = await client.chat.completions.create(
                model="app/bot", messages=[{"role": "user", "content": "hi"}], **extra)
            return r, stub.chat_requests[-1].body

        # version config over the defaults: its model, options, tools and format
        r, sent = await call()
        assert r.model == "openai/backup" and stub.models_called()[-1] == "backup"
        assert (sent["temperature"], sent["seed"], sent["max_tokens"]) == (0.3, 7, 1024)
        assert sent["tools"] == [LOOKUP] and sent["tool_choice"] == "auto"
        assert sent["response_format"] == ORDER
        # the application over the version config
        r2 = await h.patch(f"/applications/{a['id']}", json={"model_id": "openai/primary",
                                                               "temperature": 0.9})
        assert r2.status_code == 200, r2.text
        r, sent = await call()
        assert r.model == "openai/primary"
        assert (sent["temperature"], sent["seed"], sent["max_tokens"]) == (0.9, 7, 1024)
        # the request over the application
        r, sent = await call(temperature=0.1, seed=1, max_tokens=20)
        assert (sent["temperature"], sent["seed"], sent["max_tokens"]) == (0.1, 1, 20)
        # the request's output bound replaces the lower layers' under either name
        r, sent = await call(max_completion_tokens=30)
        assert sent["max_completion_tokens"] == 30 and "max_tokens" not in sent
        # a new version without config: the defaults (the application's model stays)
        await h.post(f"/prompts/{p['id']}/versions", json={"content": "Be kind.", "config": {},
                                                           "activate": True})
        await h.patch(f"/applications/{a['id']}", json={"temperature": None})
        r, sent = await call()
        assert (sent["temperature"], sent["max_tokens"]) == (0.7, 1024)
        assert "seed" not in sent and "tools" not in sent and "response_format" not in sent


async def test_run_targets_take_the_version_config(stack_client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p, ds = await seed(stack_client, cases=[{"input": {"city": "Paris"}}],
                       versions=["About {{ city }}"])
    await stack_client.post(f"/prompts/{p['id']}/versions", json={
        "content": "About {{ city }}", "activate": True,
        "config": {"model": "echo", "temperature": 0, "seed": 3, "max_tokens": 64}})
    await stack_client.post(f"/prompts/{p['id']}/versions", json={
        "content": "On {{ city }}", "config": {"model": "openai/nokey", "seed": 5}})

    async def targets(**body):
        r = await stack_client.post("/runs", json={"dataset_id": ds["id"], **body})
        assert r.status_code == 202, r.text
        run = await wait_run(stack_client, r.json()["id"])
        assert run["status"] == "completed", run
        return [(t["model"], t["params"]) for t in run["targets"]]

    # the version's config over nothing: its model and options
    assert await targets(targets=[{"prompt_id": p["id"]}]) == [
        ("echo", {"temperature": 0, "seed": 3, "max_tokens": 64})]
    # v3's config names a model without credentials: the run is refused naming it ...
    r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "version": 3}]})
    assert problem(r, 422)["model"] == "openai/nokey"
    # ... and the request's models and params go over the version's config
    assert await targets(targets=[{"prompt_id": p["id"], "version": 3,
                                   "params": {"seed": 9}}], models=["echo"]) == [
        ("echo", {"seed": 9})]
    # an application (no model of its own) over the version config
    a = (await stack_client.post("/applications", json={
        "name": "bot", "prompt_id": p["id"], "temperature": 0.5})).json()
    assert await targets(targets=[{"application_id": a["id"]}]) == [
        ("echo", {"temperature": 0.5, "seed": 3, "max_tokens": 64})]
    # version 1 has no config and the request no model: refused, saying where one goes
    r = await stack_client.post("/runs", json={"dataset_id": ds["id"], "targets": [
        {"prompt_id": p["id"], "version": 1}]})
    body = problem(r, 422)
    assert body["field"] == "targets.0.model" and "config.model" in body["detail"]


async def test_sdk_returns_the_config_with_what_is_in_effect(runtime, client):
    import httpx

    from harness.client import AsyncHarnessClient
    from services.registry.app import create_app

    p = (await client.post("/prompts", json={"name": "greet", "content": "Hi {{ n }}",
                                             "config": CONFIG})).json()
    await client.post("/applications", json={"name": "bot", "prompt_id": p["id"],
                                              "max_tokens": 99})
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with AsyncHarnessClient("http://registry", refresh="none",
                                  transport=transport) as hc:
        r = await hc.resolve("bot")
        assert r.config == CONFIG and r.model == "openai/backup"
        assert (r.params["temperature"], r.params["max_tokens"]) == (0.3, 99)
        v = await hc.get_prompt("greet", version=1)
        assert v.config == CONFIG


async def test_a_split_variant_runs_with_its_own_config(client):
    """Under a weighted split, the variant a key gets brings its version's config, and the
    model and params in effect for it, not the environment's version's."""
    from harness import rollout

    p = (await client.post("/prompts", json={"name": "p", "content": "v1",
                                             "config": {"model": "m1", "seed": 1}})).json()
    await client.post(f"/prompts/{p['id']}/versions", json={
        "content": "v2", "config": {"model": "m2", "seed": 2, "temperature": 0}})
    a = (await client.post("/applications", json={"name": "bot", "prompt_id": p["id"],
                                                   "max_tokens": 10})).json()
    variants = [{"version": 1, "weight": 50}, {"version": 2, "weight": 50}]
    r = await client.put(f"/prompts/{p['id']}/environments/production/split",
                         json={"variants": variants})
    assert r.status_code == 200, r.text
    plain = (await client.get(f"/applications/{a['id']}/resolved")).json()
    assert [(v["model"], v["params"], v["config"]) for v in plain["split"]["variants"]] == [
        ("m1", {"temperature": 0.7, "max_tokens": 10, "seed": 1}, {"model": "m1", "seed": 1}),
        ("m2", {"temperature": 0, "max_tokens": 10, "seed": 2},
         {"model": "m2", "seed": 2, "temperature": 0})]
    seen = set()
    for i in range(40):
        b = (await client.get(f"/applications/{a['id']}/resolved",
                              params={"key": f"k{i}"})).json()
        n = rollout.pick(variants, p["id"], "production", f"k{i}")["version"]
        assert (b["version"], b["model"], b["params"]["seed"], b["config"]["seed"]) == (
            n, f"m{n}", n, n)
        seen.add(n)
    assert seen == {1, 2}


async def test_a_gate_run_without_a_model_runs_each_version_as_configured(stack_client):
    c = stack_client
    p = (await c.post("/prompts", json={"name": "gated", "content": "Say {{ city }}",
                                        "config": {"model": "echo", "seed": 1}})).json()
    await c.post(f"/prompts/{p['id']}/versions", json={
        "content": "Say {{ city }}!", "config": {"model": "echo", "seed": 2}})
    await c.post(f"/prompts/{p['id']}/versions", json={"content": "Say it", "config": {}})
    gold = (await c.post("/datasets", json={"name": "gold", "dataset_type": "golden"})).json()
    await c.post(f"/datasets/{gold['id']}/cases", json={"cases": [
        {"input": {"city": "Oslo"}, "assert": [{"type": "contains", "value": "Oslo"}]}]})
    await c.post(f"/datasets/{gold['id']}/verify", json={"note": "checked"})
    r = await c.put(f"/prompts/{p['id']}/policy",
                    json={"gate": {"dataset_id": gold["id"], "min_pass_rate": 1.0}})
    assert r.status_code == 200, r.text
    r = await c.post(f"/prompts/{p['id']}/promotions", json={"version": 2, "run_gate": {}})
    assert r.status_code in (200, 201), r.text
    run = await wait_run(c, r.json()["gate_run_id"])
    assert [(t["prompt_version"], t["model"], t["params"]) for t in run["targets"]] == [
        (1, "echo", {"seed": 1}), (2, "echo", {"seed": 2})]
    # a version whose config names no model needs the gate's model
    r = await c.post(f"/prompts/{p['id']}/promotions", json={"version": 3, "run_gate": {}})
    body = problem(r, 422)
    assert body["field"] == "targets.1.model"


async def test_cli_requests_a_gate_run_on_the_versions_configs(live_stack_url):
    import httpx

    from tests.integration.test_prompt_files import harness

    async with httpx.AsyncClient(base_url=live_stack_url, timeout=60) as c:
        p = (await c.post("/prompts", json={"name": "cli-gated", "content": "Say {{ city }}",
                                            "config": {"model": "echo"}})).json()
        await c.post(f"/prompts/{p['id']}/versions", json={
            "content": "Say {{ city }}!", "config": {"model": "echo", "seed": 2}})
        gold = (await c.post("/datasets", json={"name": "g", "dataset_type": "golden"})).json()
        await c.post(f"/datasets/{gold['id']}/cases", json={"cases": [
            {"input": {"city": "Oslo"}, "assert": [{"type": "contains", "value": "Oslo"}]}]})
        await c.post(f"/datasets/{gold['id']}/verify", json={"note": "ok"})
        await c.put(f"/prompts/{p['id']}/policy", json={"gate": {"dataset_id": gold["id"]}})
    code, out = await harness("promotions", "propose", "cli-gated", "--version", "2",
                              "--run-gate", "--url", live_stack_url)
    assert code == 0, out
    async with httpx.AsyncClient(base_url=live_stack_url, timeout=60) as c:
        [promotion] = (await c.get(f"/prompts/{p['id']}/promotions")).json()["items"]
        run = await wait_run(c, promotion["gate_run_id"])
    assert [(t["model"], t["params"]) for t in run["targets"]] == [("echo", {}),
                                                                   ("echo", {"seed": 2})]
