import os
import sys

import httpx
import yaml

from tests.support import processes


async def harness(*args: str) -> tuple[int, str]:
    return await processes.run_async(sys.executable, "-m", "services.cli", *args,
                                     timeout=120, env={**os.environ, "COLUMNS": "200",
                                                       "HARNESS_LOG_JSON": "false"})


async def test_export_edit_dry_run_and_sync(live_url, tmp_path):
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        p = (await c.post("/prompts", json={"name": "Support Reply", "description": "d",
                                            "content": [{"role": "user",
                                                         "content": "Hi {{ q }}"}]})).json()
        await c.put(f"/prompts/{p['id']}/environments/staging", json={"version": 1})
    code, out = await harness("prompts", "export", str(tmp_path), "--url", live_url)
    assert code == 0, out
    f = tmp_path / "support-reply.yaml"
    doc = yaml.safe_load(f.read_text())
    assert doc["name"] == "Support Reply" and doc["environments"] == {"production": 1,
                                                                      "staging": 1}
    doc["content"][0]["content"] = "Hello {{ q }}, how can I help?"
    f.write_text(yaml.safe_dump(doc))
    (tmp_path / "new.yaml").write_text(yaml.safe_dump({"name": "brand-new",
                                                       "content": "New {{ x }}"}))
    code, out = await harness("prompts", "sync", str(tmp_path), "--dry-run", "--url", live_url)
    assert code == 0, out
    assert "new version v2 (dry run)" in out and "create (dry run)" in out
    assert "-Hi {{ q }}" in out and "+Hello {{ q }}, how can I help?" in out
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        assert (await c.get("/prompts")).json()["total"] == 1  # dry run wrote nothing
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert code == 0, out
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert out.count("unchanged") == 2  # idempotent
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        got = (await c.get(f"/prompts/{p['id']}")).json()
        assert (got["latest_version"], got["active_version"]) == (2, 1)  # not activated
        assert (await c.get("/prompts", params={"q": "brand-new"})).json()["total"] == 1
    (tmp_path / "broken.yaml").write_text("name: x\ncontent: '{{ oops'\n")
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert code == 2 and "broken.yaml" in out


async def test_promotions_cli_shows_pending_approval_and_decides(live_url):
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        p = (await c.post("/prompts", json={"name": "gov", "content": "v1"})).json()
        await c.post(f"/prompts/{p['id']}/versions", json={"content": "v2"})
        await c.put(f"/prompts/{p['id']}/policy", json={"require_approval": True})
    os.environ["HARNESS_URL"] = live_url
    try:
        code, out = await harness("promotions", "propose", "gov", "--version", "2",
                                  "--reason", "clearer", "--url", live_url)
        assert code == 0 and "pending" in out, out
        code, out = await harness("promotions", "list", "--url", live_url)
        assert code == 0 and "gov" in out and "v2 → production" in out and "clearer" in out
        pid = out.split("v2 →")[0].split()[-1]
        code, out = await harness("promotions", "approve", "gov", pid, "--comment", "ok",
                                  "--url", live_url)
        # the CLI runs open as actor "local", the proposer was "local" too: self-approval
        assert code == 1 and "someone other than its author" in out
    finally:
        os.environ.pop("HARNESS_URL", None)


async def test_prompt_files_carry_the_version_config(live_url, tmp_path):
    """A file's ``config`` is checked before anything is written, a changed config alone
    is a new version, export writes it, and a file without one leaves it to the registry."""
    import asyncio

    from harness.prompt_files import PromptFileError, export_prompts, sync_prompts

    config = {"model": "openai/gpt-4o-mini", "temperature": 0,
              "response_format": {"type": "json_object"}}

    def sync() -> list:
        with httpx.Client(base_url=live_url, timeout=60) as c:
            return sync_prompts(c, tmp_path)

    f = tmp_path / "extract.yaml"
    f.write_text(yaml.safe_dump({"name": "extract", "content": "From {{ mail }}",
                                 "config": config}))
    [change] = await asyncio.to_thread(sync)
    assert change.action == "create"
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        [p] = (await c.get("/prompts")).json()["items"]
        assert (await c.get(f"/prompts/{p['id']}")).json()["active"]["config"] == config
    # a changed config alone: a new version, its diff shows the config
    f.write_text(yaml.safe_dump({"name": "extract", "content": "From {{ mail }}", "version": 1,
                                 "config": {**config, "temperature": 0.5}}))
    [change] = await asyncio.to_thread(sync)
    assert change.action == "new-version" and change.version == 2
    assert "-temperature: 0.0\n" in change.diff and "+temperature: 0.5\n" in change.diff
    assert [c.action for c in await asyncio.to_thread(sync)] == ["unchanged"]
    # export writes the config; a file without one changes only the content
    with httpx.Client(base_url=live_url, timeout=60) as c:
        await asyncio.to_thread(export_prompts, c, tmp_path / "out")
    exported = yaml.safe_load((tmp_path / "out" / "extract.yaml").read_text())
    assert exported["config"] == config and exported["version"] == 1  # v2 is not active
    f.write_text(yaml.safe_dump({"name": "extract", "content": "Mail: {{ mail }}",
                                 "version": 2}))
    [change] = await asyncio.to_thread(sync)
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        v3 = (await c.get(f"/prompts/{p['id']}/versions/{change.version}")).json()
    assert v3["config"] == {**config, "temperature": 0.5}  # kept from v2
    # a bad config fails the whole sync before any write
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"name": "bad", "content": "x",
                                                       "config": {"api_key": "sk-1"}}))
    try:
        await asyncio.to_thread(sync)
        raise AssertionError("a bad config was synced")
    except PromptFileError as exc:
        assert "bad.yaml" in str(exc) and "config.api_key" in str(exc)
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        assert (await c.get("/prompts")).json()["total"] == 1
