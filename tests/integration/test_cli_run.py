import os
import sys

import httpx

from tests.support import processes


async def harness(*args: str, url: str, **env: str) -> tuple[int, str]:
    return await processes.run_async(sys.executable, "-m", "services.cli", *args, "--url", url,
                                     timeout=120, env={**os.environ, "COLUMNS": "200",
                                                       "HARNESS_LOG_JSON": "false", **env})


async def test_harness_run_gates_on_the_pass_rate(live_stack_url):
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        p = (await c.post("/prompts", json={"name": "greeter",
                                            "content": "Hello {{ name }}!"})).json()
        await c.post("/applications", json={"name": "greeter-app", "model_id": "echo",
                                             "prompt_id": p["id"]})
        ds = (await c.post("/datasets", json={"name": "names"})).json()
        await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [
            {"input": {"name": n}, "assert": [{"type": "contains", "value": "Ann"}]}
            for n in ("Ann", "Annie", "Bob", "Anna")]})

    code, out = await harness("run", "--app", "greeter-app", "--dataset", "names",
                              "--min-pass-rate", "0.7", url=live_stack_url)
    assert code == 0, out
    assert "PASS" in out and "75.0%" in out and "greeter-app" in out
    code, out = await harness("run", "--app", "greeter-app", "--dataset", "names",
                              "--min-pass-rate", "0.9", url=live_stack_url)
    assert code == 1 and "FAIL" in out
    code, out = await harness("run", "--prompt", "greeter@1", "--model", "echo",
                              "--dataset", "names", url=live_stack_url)
    assert code == 1 and "needed every case" in out
    code, out = await harness("run", "--app", "nope", "--dataset", "names", url=live_stack_url)
    assert code == 2 and "no application named 'nope'" in out


async def test_harness_run_joins_the_trace_of_a_traced_ci_step(live_stack_url):
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        p = (await c.post("/prompts", json={"name": "echoed", "content": "{{ q }}"})).json()
        await c.post("/applications", json={"name": "echo-app", "model_id": "echo",
                                             "prompt_id": p["id"]})
        ds = (await c.post("/datasets", json={"name": "qs"})).json()
        await c.post(f"/datasets/{ds['id']}/cases", json={"cases": [{"input": {"q": "hi"}}]})
    code, out = await harness("run", "--app", "echo-app", "--dataset", "qs",
                              url=live_stack_url,
                              TRACEPARENT=f"00-{caller_trace}-{caller_span}-01")
    assert code == 0, out
    assert f"trace {caller_trace}" in out
    async with httpx.AsyncClient(timeout=60, base_url=live_stack_url) as c:
        [run] = (await c.get("/runs")).json()["items"]
    assert run["config"]["trace_context"]["parent_span_id"] == caller_span
