"""Each studio page under Streamlit's AppTest, against a real registry (and runner) served
over HTTP on real PostgreSQL. The pages talk to it only through its REST API."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.support.studio import page, run, texts, wait_run

CHAT = [{"role": "system", "content": "You support {{ product }}."},
        {"role": "user", "content": "{{ question }}"}]


async def _prompt(reg, name="support-reply", content=CHAT) -> dict:
    r = await reg.post("/prompts", json={"name": name, "content": content})
    assert r.status_code == 201, r.text
    return r.json()


async def _dataset(reg, name="questions", cases=None, dataset_type="evaluation") -> dict:
    ds = (await reg.post("/datasets", json={"name": name, "dataset_type": dataset_type})).json()
    if cases:
        r = await reg.post(f"/datasets/{ds['id']}/cases", json={"cases": cases})
        assert r.status_code == 201, r.text
    return ds


# ---------------------------------------------------------------- Prompts


async def test_prompts_create_edit_diff_activate_and_history(reg):
    at = await run(page("prompts"))
    assert "No prompts yet." in texts(at)

    at.text_input(key="new_prompt_name").input("greeter")
    at.text_area(key="new_prompt_text").input("Say hello to {{ name }}.")
    at.button(key="new_prompt_create").click()
    await run(at)
    assert "Created greeter (v1 is active)." in texts(at)
    [summary] = (await reg.get("/prompts")).json()["items"]
    pid = summary["id"]
    p = (await reg.get(f"/prompts/{pid}")).json()
    assert p["active"]["content"] == "Say hello to {{ name }}."
    assert at.query_params["prompt"] == pid

    # edit the active version into v2 with a note (not activated yet)
    at.text_area(key=f"edit_{pid}_1_text").input("Say hello to {{ name }} in {{ tone }}.")
    at.text_input(key=f"edit_note_{pid}").input("add a tone")
    at.button(key=f"edit_save_{pid}").click()
    await run(at)
    assert "Saved v2. Variables: name, tone." in texts(at)
    versions = (await reg.get(f"/prompts/{pid}/versions")).json()["items"]
    assert [(v["version"], v["is_active"], v["change_note"], v["derived_from"])
            for v in versions] == [(1, True, "initial version", None),
                                   (2, False, "add a tone", 1)]

    # the versions tab shows v2 against the active v1: the diff and its summary
    assert at.selectbox(key=f"ver_{pid}").value == 2
    assert "v1 → v2: +1 −1 lines; variables added: tone" in texts(at)
    assert any("+Say hello to {{ name }} in {{ tone }}." in c.value for c in at.code)

    # activation needs a reason, then a confirmation
    at.button(key=f"act_{pid}_ask").click()
    await run(at)
    assert "Give a reason first" in texts(at)
    at.text_input(key=f"act_{pid}_reason").input("friendlier")
    at.button(key=f"act_{pid}_ask").click()
    await run(at)
    assert "Confirm:" in texts(at)
    assert (await reg.get(f"/prompts/{pid}")).json()["active_version"] == 1  # not yet
    at.button(key=f"act_{pid}_confirm").click()
    await run(at)
    assert "v2 of greeter is now active." in texts(at)
    assert (await reg.get(f"/prompts/{pid}")).json()["active_version"] == 2

    # roll back from the same panel, and read it in the history
    at.selectbox(key=f"ver_{pid}").select(1)
    await run(at)
    at.text_input(key=f"act_{pid}_reason").input("tone confuses users")
    at.button(key=f"act_{pid}_ask").click()
    await run(at)
    assert at.button(key=f"act_{pid}_confirm").label == "Yes, roll back to v1"
    at.button(key=f"act_{pid}_confirm").click()
    await run(at)
    assert (await reg.get(f"/prompts/{pid}")).json()["active_version"] == 1
    history = at.dataframe[-1].value
    assert list(history["what"])[:3] == ["rolled back to v1 (from v2)", "activated v2 (was v1)",
                                         "saved v2 (edited from v1)"]
    assert list(history["note"])[:2] == ["tone confuses users", "friendlier"]


async def test_prompts_show_diff_and_edit_a_version_config(reg):
    config = {"model": "echo", "temperature": 0,
              "response_format": {"type": "json_object"}}
    r = await reg.post("/prompts", json={"name": "extract", "content": "From {{ mail }}",
                                         "config": config})
    pid = r.json()["id"]
    at = await run(page("prompts", prompt=pid))
    assert "Model config" in texts(at) and "model=echo, temperature=0" in texts(at)
    assert any('"response_format"' in c.value for c in at.code)

    # a config that is not JSON is refused before anything is sent
    key = f"edit_config_{pid}_1"
    at.text_area(key=key).input('{"model": ')
    at.text_input(key=f"edit_note_{pid}").input("colder")
    at.button(key=f"edit_save_{pid}").click()
    await run(at)
    assert "Config is not JSON" in texts(at)
    assert (await reg.get(f"/prompts/{pid}")).json()["latest_version"] == 1
    # a changed config alone is saved as a new version, and diffed against v1
    at.text_area(key=key).input(json.dumps({**config, "temperature": 0.5}))
    at.button(key=f"edit_save_{pid}").click()
    await run(at)
    assert "Saved v2" in texts(at)
    v2 = (await reg.get(f"/prompts/{pid}/versions/2")).json()
    assert v2["config"] == {**config, "temperature": 0.5} and v2["content"] == "From {{ mail }}"
    at.selectbox(key=f"ver_{pid}").select(2)
    await run(at)
    assert any('+  "temperature": 0.5' in c.value for c in at.code)
    # the registry's refusal of a bad config is shown as a message
    at.text_area(key=f"edit_config_{pid}_1").input('{"api_key": "sk-1"}')
    at.button(key=f"edit_save_{pid}").click()
    await run(at)
    assert "config.api_key" in texts(at)
    assert (await reg.get(f"/prompts/{pid}")).json()["latest_version"] == 2


async def test_prompts_show_a_versions_references(reg):
    await _prompt(reg, name="support-tone", content="Be brief.")
    p = await _prompt(reg, name="reply", content='{{ prompt("support-tone") }} Hi {{ name }}')
    at = await run(page("prompts", prompt=p["id"]))
    assert "References: support-tone @ production" in texts(at)
    out = (await reg.post(f"/prompts/{p['id']}/render",
                          json={"variables": {"name": "Ana"}})).json()
    assert out["rendered"] == "Be brief. Hi Ana"


async def test_prompts_errors_are_messages_not_tracebacks(reg):
    await _prompt(reg, "taken")
    at = await run(page("prompts"))
    at.text_input(key="new_prompt_name").input("taken")
    at.text_area(key="new_prompt_text").input("x")
    at.button(key="new_prompt_create").click()
    await run(at)
    [err] = at.error
    assert err.value.startswith("Could not create the prompt 'taken':")
    assert "already taken" in err.value

    # an unknown prompt id in the URL is just not selected; search narrows the list
    at = await run(page("prompts", prompt="nope"))
    assert at.selectbox(key="prompts_prompt").value is not None
    at.text_input(key="prompts_q").input("zzz")
    await run(at)
    assert "No prompt name contains 'zzz'." in texts(at)


async def test_prompts_page_says_when_the_registry_is_down(monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HARNESS_URL", f"http://127.0.0.1:{port}")
    at = await run(page("prompts"))
    [err] = at.error
    assert "cannot reach http://127.0.0.1:" in err.value and "harness up" in err.value


async def test_prompts_chat_editor_and_two_hundred_versions(reg):
    p = await _prompt(reg)
    for i in range(2, 201):
        r = await reg.post(f"/prompts/{p['id']}/versions",
                           json={"content": [CHAT[0], {"role": "user",
                                                       "content": f"{{{{ question }}}} #{i}"}],
                                 "change_note": f"try {i}"})
        assert r.status_code == 201
    at = await run(page("prompts", prompt=p["id"]))
    assert "200 versions" in texts(at)
    assert at.selectbox(key=f"ver_{p['id']}").value == 200
    assert len(at.dataframe[0].value) == 200
    assert "v1 → v200: +1 −1 lines" in texts(at)
    # the editor shows chat messages as a table (role, content)
    assert at.radio(key=f"edit_{p['id']}_1_mode").value == "chat"


# ---------------------------------------------------------------- Playground


async def test_playground_runs_a_version_on_echo(reg):
    p = await _prompt(reg)
    at = await run(page("playground", prompt=p["id"]))
    assert at.selectbox(key="pg_prompt").value == p["id"]
    assert [t.label for t in at.text_area] == ["product", "question"]
    at.text_area(key="pg_var_product").input("harness")
    at.text_area(key="pg_var_question").input("How do I roll back?")
    at.button[0].click()  # the form's Run button
    await run(at)
    out = texts(at)
    assert "✅ Pass" in out
    assert any("How do I roll back?" in c.value and "You support harness." in c.value
               for c in at.code)  # echo answers with the rendered prompt
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Model"] == "echo" and metrics["Tokens in / out"] != "0 / 0"
    # the try is a recorded run; the playground dataset is left empty
    runs = (await reg.get("/runs")).json()["items"]
    assert [r["dataset_name"] for r in runs] == ["studio-playground"]
    assert runs[0]["status"] == "completed" and runs[0]["source"] == "studio"
    [ds] = (await reg.get("/datasets", params={"q": "studio-playground"})).json()["items"]
    assert ds["case_count"] == 0


async def test_playground_application_and_missing_variable(reg):
    p = await _prompt(reg)
    app = (await reg.post("/applications", json={"name": "bot", "model_id": "echo",
                                                  "prompt_id": p["id"]})).json()
    at = await run(page("playground"))
    at.radio(key="pg_kind").set_value("application")
    await run(at)
    assert at.selectbox(key="pg_app").value == app["id"]
    assert "runs support-reply v1 on echo" in texts(at)
    at.text_area(key="pg_var_product").input("harness")
    at.text_area(key="pg_var_question").input("{{ nested }}")
    at.button[0].click()
    await run(at)
    assert "✅ Pass" in texts(at)
    # an unknown model fails as an error result with the reason, not a crash
    at.text_input(key="pg_app_model").input("nosuchprovider/x")
    at.button[0].click()
    await run(at)
    assert "⚠️ Error" in texts(at)


# ---------------------------------------------------------------- Datasets


async def test_datasets_create_import_preview_errors_and_verify(reg, tmp_path):
    at = await run(page("datasets"))
    assert "No datasets yet" in texts(at)
    at.text_input(key="new_ds_name").input("faq")
    at.radio(key="new_ds_type").set_value("golden")
    at.button[0].click()
    await run(at)
    assert "Created faq." in texts(at)
    [ds] = (await reg.get("/datasets")).json()["items"]
    assert ds["dataset_type"] == "golden"
    assert "🏅 golden · ○ not verified" in texts(at)


async def test_datasets_import_shows_row_errors_then_imports(reg):
    ds = await _dataset(reg, "faq")
    bad = b"question,__threshold\nhi,0.5\nbye,lots\n"
    good = b"question,__expected,__description\nhi,icontains: hello,greeting\nbye,,\n"
    at = await run(page("datasets", dataset=ds["id"]))
    await _upload(at, ds["id"], "cases.csv", bad)
    out = texts(at)
    assert "Preview** — 2 rows (CSV)" in out
    at.button(key=f"import_go_{ds['id']}").click()
    await run(at)
    assert "Could not import cases.csv" in texts(at)
    errors = at.dataframe[-1].value
    assert list(errors["row"]) == [3] and "__threshold" in list(errors["field"])[0]
    assert (await reg.get(f"/datasets/{ds['id']}")).json()["case_count"] == 0  # nothing added

    await _upload(at, ds["id"], "cases.csv", good)
    at.button(key=f"import_go_{ds['id']}").click()
    await run(at)
    assert "Imported 2 cases; the dataset has 2." in texts(at)


async def _upload(at, dataset_id: str, name: str, data: bytes) -> None:
    at.file_uploader(key=f"import_file_{dataset_id}").set_value((name, data, "text/csv"))
    await run(at)


async def test_datasets_edit_cases_in_the_table_and_verify(reg):
    ds = await _dataset(reg, "faq", dataset_type="golden", cases=[
        {"input": {"question": "hi"}, "expected_output": "hello",
         "assert": [{"type": "icontains", "value": "hello"}]},
        {"input": {"question": "bye"}}])
    at = await run(page("datasets", dataset=ds["id"]))
    editor = at.data_editor(key=f"cases_editor_{ds['id']}_1")
    table = editor.value
    assert list(table["question"]) == ["hi", "bye"]
    assert list(table["assertions"]) == ["icontains 'hello'", ""]
    # a person edits a cell, adds a row and deletes one: the edit state the grid sends
    at.session_state[f"cases_editor_{ds['id']}_1"] = {
        "edited_rows": {0: {"question": "hi there"}},
        "added_rows": [{"question": "thanks", "expected_output": "you're welcome"}],
        "deleted_rows": [1]}
    await run(at)
    save = at.button(key=f"cases_save_{ds['id']}")
    assert save.label == "Save changes (1 new, 1 changed, 1 removed)"
    save.click()
    await run(at)
    assert "Saved: 1 new, 1 changed, 1 removed." in texts(at)
    cases = (await reg.get(f"/datasets/{ds['id']}/cases")).json()["items"]
    assert [(c["input"], c["expected_output"], c["assert"]) for c in cases] == [
        ({"question": "hi there"}, "hello", [{"type": "icontains", "value": "hello"}]),
        ({"question": "thanks"}, "you're welcome", [])]

    # review & verify: the button waits for the reviewer's confirmation
    assert at.button(key=f"verify_go_{ds['id']}").disabled
    at.text_input(key=f"verify_note_{ds['id']}").input("read all three")
    at.checkbox(key=f"verify_ok_{ds['id']}").check()
    await run(at)
    at.button(key=f"verify_go_{ds['id']}").click()
    await run(at)
    assert "faq is verified." in texts(at)
    assert "🏅 golden · ✔ verified by local" in texts(at)
    got = (await reg.get(f"/datasets/{ds['id']}")).json()
    assert got["is_verified"] and got["verified_by"] == "local"

    # switching the type is a PATCH; the badge follows
    at.radio(key=f"ds_type_{ds['id']}").set_value("evaluation")
    at.button(key=f"ds_save_{ds['id']}").click()
    await run(at)
    assert (await reg.get(f"/datasets/{ds['id']}")).json()["dataset_type"] == "evaluation"
    assert "🧪 evaluation" in texts(at)


# ---------------------------------------------------------------- Runs


async def _seed_run_inputs(reg) -> tuple[dict, dict]:
    p = await _prompt(reg)
    r = await reg.post(f"/prompts/{p['id']}/versions", json={
        "content": [{"role": "system", "content": "You support {{ product }}. Be brief."},
                    CHAT[1]], "change_note": "brief"})
    assert r.status_code == 201
    ds = await _dataset(reg, "questions", cases=[
        {"input": {"product": "harness", "question": "How do I roll back?"},
         "assert": [{"type": "icontains", "value": "roll back"}]},
        {"input": {"product": "harness", "question": "Is it short?"},
         "assert": [{"type": "icontains", "value": "brief"}]}])
    return p, ds


async def test_runs_start_follow_filter_and_open_a_case(reg):
    p, ds = await _seed_run_inputs(reg)
    at = await run(page("runs"))
    assert "No runs yet." in texts(at)
    at.multiselect(key="run_prompts").select(p["id"])
    await run(at)
    labels = at.multiselect(key="run_targets").options
    assert labels == ["support-reply v2 — brief",
                      "support-reply v1 (active) — initial version"]
    at.multiselect(key="run_targets").select(labels[0]).select(labels[1])
    at.text_input(key="run_models").input("echo")
    at.button[-1].click()  # the form's Start run
    await run(at)
    assert "Run started: 4 results to record." in texts(at)
    run_id = at.query_params["run"]
    await wait_run(reg, run_id)
    await run(at)
    out = texts(at)
    assert "questions — ✅ completed" in out
    assert "**Verdict:** ❌ fail — 75.0% of cases pass (needs 100%)" in out
    [results] = [d.value for d in at.dataframe if "case" in d.value.columns]
    assert sorted(results["result"]) == ["✅ Pass", "✅ Pass", "✅ Pass", "❌ Fail"]
    # a case reads as its text (the question first), not as its id
    assert sorted(set(results["case"])) == ["question: How do I roll back? · product: harness",
                                            "question: Is it short? · product: harness"]

    # filter to failures; the case detail shows the rendered prompt, output and reasons
    at.selectbox(key="res_status").select("fail")
    await run(at)
    [failing] = [d.value for d in at.dataframe if "case" in d.value.columns]
    assert list(failing["result"]) == ["❌ Fail"]
    assert "Case: question: Is it short? · product: harness" in [t.value for t in at.text]
    assert list(failing["target"]) == ["support-reply v1 · echo"]
    assert "Is it short?" in "\n".join(c.value for c in at.code)
    assertions = at.dataframe[-1].value
    assert list(assertions["assertion"]) == ["icontains"]
    assert "brief" in list(assertions["reason"])[0]
    at.text_input(key="res_text").input("no such text")
    await run(at)
    assert "No results match." in texts(at)


async def test_runs_form_refuses_incomplete_input_and_reports_api_errors(reg):
    p, ds = await _seed_run_inputs(reg)
    at = await run(page("runs"))
    at.button[-1].click()
    await run(at)
    assert "Choose at least one prompt version or application." in texts(at)
    at.multiselect(key="run_prompts").select(p["id"])
    await run(at)
    at.multiselect(key="run_targets").select(at.multiselect(key="run_targets").options[0])
    at.text_input(key="run_models").input(" ")
    at.button[-1].click()
    await run(at)
    # no model and none in the version's config: the registry's answer says where one goes
    assert "targets.0.model: no model" in texts(at) and "config.model" in texts(at)
    assert (await reg.get("/runs")).json()["total"] == 0
    # an unknown run in the URL is a readable message
    at = await run(page("runs", run="00000000-0000-0000-0000-000000000000"))
    assert "Could not load the run: run 00000000-0000-0000-0000-000000000000 not found" \
        in texts(at)


# ---------------------------------------------------------------- Compare


async def test_compare_pivot_regressions_trend_and_activate(reg):
    p, ds = await _seed_run_inputs(reg)
    both = (await reg.post("/runs", json={
        "dataset_id": ds["id"], "models": ["echo"],
        "targets": [{"prompt_id": p["id"], "version": 1},
                    {"prompt_id": p["id"], "version": 2}]})).json()
    await wait_run(reg, both["id"])
    v2 = (await reg.post("/runs", json={"dataset_id": ds["id"], "models": ["echo"],
                                        "targets": [{"prompt_id": p["id"], "version": 2}]}
                         )).json()
    await wait_run(reg, v2["id"])
    v1 = (await reg.post("/runs", json={"dataset_id": ds["id"], "models": ["echo"],
                                        "targets": [{"prompt_id": p["id"], "version": 1}]}
                         )).json()
    await wait_run(reg, v1["id"])

    at = await run(page("compare", run=both["id"]))
    grid = at.dataframe[0].value
    assert list(grid["prompt version"]) == ["support-reply v1", "support-reply v2"]
    assert list(grid["echo"]) == ["50.0%", "100.0%"]
    assert "Best: **support-reply v2** on **echo**" in texts(at)
    at.radio(key="cmp_metric").set_value("cost_usd")
    await run(at)
    assert set(at.dataframe[0].value["echo"]) <= {"$0.00", "unknown"}

    # before = the v2 run, after = the v1 run: "Is it short?" regressed
    at.selectbox(key="cmp_before").select(v2["id"])
    await run(at)
    at.selectbox(key=f"cmp_after_{ds['id']}").select(v1["id"])
    await run(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["🔻 regressed"] == "1" and metrics["🔺 fixed"] == "0"
    changes = at.dataframe[-1].value
    assert list(changes["change"]) == ["🔻 regressed"]
    assert list(changes["case"]) == ["question: Is it short? · product: harness"]
    assert list(changes["before"]) == ["✅ Pass"] and list(changes["after"]) == ["❌ Fail"]

    # trend chart for the prompt, then activate v2 from the Decide panel
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # the pivot's bars and the trend's lines
    trend = json.loads(charts[1].proto.spec)
    assert trend["mark"]["type"] == "line" and trend["encoding"]["color"]["field"] == "series"
    at.selectbox(key=f"cmp_activate_{p['id']}").select(2)
    at.text_input(key=f"cmp_act_{p['id']}_reason").input("passes every case")
    at.button(key=f"cmp_act_{p['id']}_ask").click()
    await run(at)
    at.button(key=f"cmp_act_{p['id']}_confirm").click()
    await run(at)
    assert (await reg.get(f"/prompts/{p['id']}")).json()["active_version"] == 2


async def test_compare_refuses_runs_of_different_datasets(reg):
    """Two unrelated runs once compared as "+26.7 pts": the studio offers only runs of the
    same dataset, and the registry refuses the comparison outright."""
    p, ds = await _seed_run_inputs(reg)
    other = await _dataset(reg, "other questions", cases=[
        {"input": {"product": "acme", "question": f"q{i}"},
         "assert": [{"type": "contains", "value": "acme"}]} for i in range(3)])
    runs = {}
    for name, dataset, version in (("a1", ds, 1), ("a2", ds, 2), ("b", other, 2)):
        r = (await reg.post("/runs", json={"dataset_id": dataset["id"], "models": ["echo"],
                                           "targets": [{"prompt_id": p["id"],
                                                        "version": version}]})).json()
        runs[name] = await wait_run(reg, r["id"])
    refused = await reg.get("/runs/compare", params={"ids": f"{runs['a1']['id']},"
                                                            f"{runs['b']['id']}"})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:harness:problem:runs-not-comparable"
    assert problem["field"] == "ids" and "different datasets" in problem["detail"]

    at = await run(page("compare"))
    at.selectbox(key="cmp_before").select(runs["b"]["id"])
    await run(at)
    assert "No other completed run on the dataset other questions" in texts(at)
    at.selectbox(key="cmp_before").select(runs["a2"]["id"])
    await run(at)
    after = at.selectbox(key=f"cmp_after_{ds['id']}")
    assert len(after.options) == 1 and " · questions · " in after.options[0]
    assert after.value == runs["a1"]["id"]


# ---------------------------------------------------------------- Usage


async def test_usage_without_a_gateway_says_so(live_url, monkeypatch):
    monkeypatch.setenv("HARNESS_URL", live_url)
    at = await run(page("usage"))
    out = texts(at)
    assert f"No gateway metrics at {live_url}" in out
    assert "This server has no cost alerts" in out


async def test_usage_charts_and_cost_alerts_from_the_gateway(runtime, monkeypatch):
    from services.gateway.config import GatewaySettings
    from tests.support.gateway import serve_gateway
    from tests.support.stub_llm import StubLLM

    prices = {"openai/primary": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}
    async with StubLLM() as stub:
        stub.usage("primary", 10, 10)
        settings = GatewaySettings(deployments={"*": {"api_base": stub.base_url,
                                                      "api_key": "sk-test"}},
                                   prices=prices, num_retries=0, trace_flush_s=0.02,
                                   alert_check_s=3600)
        async with serve_gateway(runtime, settings) as gw:
            monkeypatch.setenv("HARNESS_URL", gw.url)
            sdk = gw.sdk(await gw.key())
            for _ in range(3):
                await sdk.chat.completions.create(
                    model="openai/primary", messages=[{"role": "user", "content": "hi"}])
            stub.fail_next(500, times=1, model="primary")
            with pytest.raises(Exception):  # noqa: B017 - any SDK error: the call failed
                await sdk.chat.completions.create(
                    model="openai/primary", messages=[{"role": "user", "content": "hi"}])
            await gw.gateway.traces.flush()

            at = await run(page("usage"))
            assert "No cost alerts configured." in texts(at)
            metrics = {m.label: m.value for m in at.metric}
            assert metrics["Requests"] == "4" and metrics["Error rate"] == "25.0%"
            assert metrics["Tokens"] == "60" and metrics["Cost"] == "$0.00009"
            charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
            assert [c["encoding"]["y"]["title"] for c in charts] == ["ms", "tokens", "USD",
                                                                      "errors"]

            # configure an alert in the form; it fires on the spend already there
            at.selectbox(key="alert_scope").select("total")
            at.number_input(key="alert_threshold").set_value(0.00005)
            at.text_input(key="alert_name").input("tiny budget")
            at.button[-1].click()
            await run(at)
            assert "Alert created: tiny budget over $0.00005 per day." in texts(at)
            await gw.gateway.alerts.check()
            await gw.gateway.alerts.settled()
            await run(at)
            alerts = at.dataframe[0].value
            assert list(alerts["alert"]) == ["tiny budget"]
            assert list(alerts["status"]) == ["🔔 fired"]
            fired = at.dataframe[1].value
            assert list(fired["alert"]) == ["tiny budget"] and list(fired["spent"]) == [
                "$0.00009"]


async def test_datasets_review_generated_cases_then_promote_into_golden(reg, stack, monkeypatch):
    from pathlib import Path

    from tests.support.generation import qa_reply, wait_generation
    from tests.support.stub_llm import StubLLM

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    doc = Path(__file__).resolve().parents[1] / "data" / "generation" / "shipping.txt"
    ds = await _dataset(reg, "synthetic")
    golden = await _dataset(reg, "golden-faq", dataset_type="golden")
    with StubLLM() as stub:
        stub.reply("writer", qa_reply)
        stack.generator.llm.deployments["*"] = {"api_base": stub.base_url}
        r = await reg.post(f"/datasets/{ds['id']}/generate", data={
            "model": "openai/writer",
            "num_questions": "3"}, files=[("files", ("shipping.txt", doc.read_bytes(),
                                                     "text/plain"))])
        assert r.status_code == 202, r.text
        assert (await wait_generation(reg, r.json()["id"]))["status"] == "completed"

    at = await run(page("datasets", dataset=ds["id"]))
    assert "Generated cases to review (3)" in texts(at)
    queue = at.data_editor(key=f"review_editor_{ds['id']}").value
    ids = list(queue["id"])
    assert all("What do we know about" in q for q in queue["question"]), list(queue["question"])
    at.session_state[f"review_editor_{ds['id']}"] = {
        "edited_rows": {0: {"decision": "accept", "expected_output": "Edited answer."},
                        1: {"decision": "reject", "note": "off topic"}},
        "added_rows": [], "deleted_rows": []}
    await run(at)
    at.button(key=f"review_go_{ds['id']}").click()
    await run(at)
    assert "Accepted 1, rejected 1; 1 still to review." in texts(at)
    accepted = (await reg.get(f"/datasets/{ds['id']}/review",
                              params={"status": "accepted"})).json()["items"]
    assert [(c["id"], c["expected_output"]) for c in accepted] == [(ids[0], "Edited answer.")]
    assert (await reg.get(f"/datasets/{ds['id']}")).json()["case_count"] == 2  # one rejected
    # the rejected case stays readable, collapsed, with the reviewer's note
    rejected = at.expander(key=f"rejected_{ds['id']}")
    assert rejected.label == "Rejected cases (1)" and not rejected.proto.expanded
    [table] = [d.value for d in rejected.dataframe]
    assert list(table["question"]) == [queue["question"][1]]
    assert list(table["note"]) == ["off topic"] and list(table["rejected_by"]) != ["—"]

    at.selectbox(key=f"promote_to_{ds['id']}").select(golden["id"])
    at.button(key=f"promote_go_{ds['id']}").click()
    await run(at)
    assert "Promoted 1 case(s) into golden-faq. It needs verifying again." in texts(at)
    [copy] = (await reg.get(f"/datasets/{golden['id']}/cases")).json()["items"]
    assert copy["expected_output"] == "Edited answer."


async def test_datasets_cancel_a_running_generation(reg, stack, monkeypatch):
    from pathlib import Path

    from tests.support.generation import qa_reply
    from tests.support.stub_llm import StubLLM

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    doc = Path(__file__).resolve().parents[1] / "data" / "generation" / "shipping.txt"
    ds = await _dataset(reg, "slow-synthetic")
    # the model answers slowly: the generation waits on its first calls while the page runs
    # (and compiles nothing meanwhile: Python 3.11's parser is not safe across threads)
    with StubLLM(latency_s=10) as stub:
        stub.reply("writer", qa_reply)
        stack.generator.llm.deployments["*"] = {"api_base": stub.base_url}
        r = await reg.post(f"/datasets/{ds['id']}/generate", data={
            "model": "openai/writer",
            "num_questions": "40"}, files=[("files", ("shipping.txt", doc.read_bytes(),
                                                      "text/plain"))])
        assert r.status_code == 202, r.text
        gid = r.json()["id"]
        for _ in range(600):  # up to 30 s until the first calls (8 at a time) are in flight
            if len(stub.chat_requests) == 8:
                break
            await asyncio.sleep(0.05)
        assert len(stub.chat_requests) == 8
        at = await run(page("datasets", dataset=ds["id"]))
        button = at.button(key=f"gen_cancel_{gid}")
        assert button.label.startswith("Cancel the generation from shipping.txt (")
        button.click()
        await run(at)
        g = (await reg.get(f"/generations/{gid}")).json()
        assert (g["status"], g["reason"], g["generated"]) == (
            "cancelled", "cancelled in the studio", 0)
        assert f"Cancelled the generation; the {g['generated']} case(s) it made stay" in texts(at)
        # ended: the list says why, and there is nothing left to cancel
        assert not [b for b in at.button if b.key == f"gen_cancel_{gid}"]
        [row] = next(d.value for d in at.dataframe if "why" in d.value).to_dict("records")
        assert row["status"] == "⛔ cancelled"
        assert row["why"].endswith(": cancelled in the studio")


# ---------------------------------------------------------------- the app: sidebar, navigation


async def test_app_sidebar_names_the_actor_and_navigates(reg):
    from streamlit.testing.v1 import AppTest

    from tests.support.studio import STUDIO

    at = AppTest.from_file(str(STUDIO / "app.py"), default_timeout=60)
    await run(at)
    assert any("🟢 registry: http://127.0.0.1:" in c.value for c in at.sidebar.caption)
    assert at.title[0].value == "📝 Prompts"  # the home page
    at.sidebar.text_input(key="studio_actor").input("ana")
    await run(at)
    at.text_input(key="new_prompt_name").input("by-ana")
    at.text_area(key="new_prompt_text").input("hello")
    at.button(key="new_prompt_create").click()
    await run(at)
    [p] = (await reg.get("/prompts")).json()["items"]
    assert p["active"]["created_by"] == "ana"
    history = (await reg.get(f"/prompts/{p['id']}/history")).json()["items"]
    assert {h["actor"] for h in history} == {"ana"}
    at.switch_page(str(STUDIO / "screens" / "runs.py"))
    await run(at)
    assert at.title[0].value == "▶️ Runs"


async def test_app_asks_for_a_key_when_the_registry_requires_one(stack, reg):
    """After `harness keys create` the studio is not locked out: it asks for a key, keeps
    it in the browser session only, and works with it."""
    from streamlit.testing.v1 import AppTest

    from harness import apikeys
    from tests.support.studio import STUDIO

    key = await apikeys.create_key(stack.runtime.pool, "ana", "editor")
    at = AppTest.from_file(str(STUDIO / "app.py"), default_timeout=60)
    await run(at)
    assert "This registry requires an API key" in " ".join(i.value for i in at.sidebar.info)
    assert at.title[0].value == "🔑 Sign in"  # no page full of 401 errors

    at.sidebar.text_input(key="api_key_input").input("hk_wrong")
    at.sidebar.button[0].click()
    await run(at)
    assert "That API key is unknown or revoked." in [e.value for e in at.sidebar.error]

    at.sidebar.text_input(key="api_key_input").input(key)
    at.sidebar.button[0].click()
    await run(at)
    assert any("kept for this browser session only" in c.value for c in at.sidebar.caption)
    assert at.title[0].value == "📝 Prompts"
    assert key not in str(dict(at.query_params))
    at.text_input(key="new_prompt_name").input("by-key")
    at.text_area(key="new_prompt_text").input("hello")
    at.button(key="new_prompt_create").click()
    await run(at)
    r = await reg.get("/prompts", headers={"Authorization": f"Bearer {key}"})
    [p] = r.json()["items"]
    assert p["active"]["created_by"] == "ana"


async def test_a_public_studio_never_acts_with_its_service_key(stack, reg, monkeypatch):
    """Bound off loopback without IAP/private ingress in front, a studio given the
    services' editor key must not make every visitor that editor: it asks each visitor
    for their own key. Behind IAP (HARNESS_STUDIO_ACCESS=iap) it acts with the key."""
    from streamlit.testing.v1 import AppTest

    from harness import apikeys
    from tests.support.studio import STUDIO

    key = await apikeys.create_key(stack.runtime.pool, "services", "editor")
    monkeypatch.setenv("HARNESS_API_KEY", key)
    monkeypatch.setenv("HARNESS_HOST", "0.0.0.0")
    monkeypatch.delenv("HARNESS_INSECURE", raising=False)
    monkeypatch.delenv("HARNESS_STUDIO_ACCESS", raising=False)
    at = AppTest.from_file(str(STUDIO / "app.py"), default_timeout=60)
    await run(at)
    assert at.title[0].value == "🔑 Sign in"
    assert "This registry requires an API key" in " ".join(i.value for i in at.sidebar.info)

    monkeypatch.setenv("HARNESS_STUDIO_ACCESS", "iap")
    at = AppTest.from_file(str(STUDIO / "app.py"), default_timeout=60)
    await run(at)
    assert at.title[0].value == "📝 Prompts"
