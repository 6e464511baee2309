import json
import os
import sys
from pathlib import Path

import httpx

from tests.support import processes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "promptfoo"


async def harness(*args: str) -> tuple[int, str]:
    return await processes.run_async(sys.executable, "-m", "services.cli", *args,
                                     timeout=120, env={**os.environ, "COLUMNS": "200",
                                                       "HARNESS_LOG_JSON": "false"})


async def test_eval_writes_promptfoo_json_and_records_a_comparable_run(live_url, tmp_path):
    out = tmp_path / "results.json"
    config = FIXTURES / "basic" / "promptfooconfig.yaml"
    code, text = await harness("eval", "-c", str(config), "-o", str(out), "--record",
                               "--url", live_url)
    assert code == 100, text  # the fixture has failing tests, as promptfoo would exit
    assert "recorded as run" in text
    data = json.loads(out.read_text())
    assert data["results"]["version"] == 3 and data["results"]["results"]
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        runs = (await c.get("/runs")).json()["items"]
        assert len(runs) == 1 and runs[0]["status"] == "completed"
        run = runs[0]
        assert run["source"] == "harness-eval" and run["recorded"] == len(
            data["results"]["results"])
        assert run["failed"] + run["errors"] == data["results"]["stats"]["failures"] + data[
            "results"]["stats"].get("errors", 0)
        prompts = (await c.get("/prompts")).json()["items"]
        assert sorted(p["name"] for p in prompts) == ["Echo basics · prompt 1", "farewell"]
        # recording the same eval again reuses the prompts' versions and the dataset
        code, text = await harness("eval", "-c", str(config), "--record", "--url", live_url)
        assert code == 100, text
        runs = (await c.get("/runs")).json()["items"]
        assert len(runs) == 2 and runs[0]["dataset_id"] == runs[1]["dataset_id"]
        assert all(p["latest_version"] == 1 for p in (await c.get("/prompts")).json()["items"])
        cmp_ = (await c.get("/runs/compare", params={"ids": f"{runs[1]['id']},{runs[0]['id']}"}
                            )).json()
        assert cmp_["counts"].get("regressed", 0) == 0 and cmp_["counts"].get("fixed", 0) == 0


async def test_eval_exit_codes_and_engine_promptfoo_unavailable(tmp_path, monkeypatch):
    # no private promptfoo and no auto-install: the command must say what is missing
    monkeypatch.setenv("HARNESS_PROMPTFOO_DIR", str(tmp_path / "no-promptfoo"))
    monkeypatch.setenv("HARNESS_PROMPTFOO_INSTALL", "0")
    code, text = await harness("eval", "-c", str(FIXTURES / "allpass" / "promptfooconfig.yaml"))
    assert code == 0, text
    bad = tmp_path / "promptfooconfig.yaml"
    bad.write_text("prompts: 3\n")
    code, text = await harness("eval", "-c", str(bad))
    assert code == 1 and "prompts" in text
    code, text = await harness("eval", "-c", str(FIXTURES / "allpass" / "promptfooconfig.yaml"),
                               "--engine", "promptfoo")
    # (this machine's own Node is 20) the command says what is needed
    assert code == 1 and "Node" in text and "install.sh" in text
