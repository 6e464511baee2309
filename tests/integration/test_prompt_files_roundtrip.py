"""``harness prompts export`` then ``sync`` is a no-op, whatever the registry did since
(rollback, environment moves), and ``harness demo`` run twice adds no identical versions."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import yaml

from tests.support import processes

HARNESS = [sys.executable, "-m", "services.cli"]
V1 = [{"role": "system", "content": "You help with {{ product }}."},
      {"role": "user", "content": "{{ question }}"}]
V2 = [{"role": "system", "content": "Be brief about {{ product }}.\n"},
      {"role": "user", "content": "{{ question }}"}]
V3 = [{"role": "system", "content": "Be very brief about {{ product }}."},
      {"role": "user", "content": "Q: {{ question }}"}]


async def harness(*args: str) -> tuple[int, str]:
    return await processes.run_async(*HARNESS, *args, timeout=120, env={
        **os.environ, "COLUMNS": "200", "HARNESS_LOG_JSON": "false"})


async def _versions(c: httpx.AsyncClient, pid: str) -> list[dict]:
    return (await c.get(f"/prompts/{pid}/versions", params={"limit": 500})).json()["items"]


async def _chat_prompt_rolled_back(c: httpx.AsyncClient) -> str:
    """v1, v2, v3 of a chat prompt, v3 activated then rolled back to v1 (the demo's end
    state), staging on v3."""
    p = (await c.post("/prompts", json={"name": "support-reply", "content": V1})).json()
    for content in (V2, V3):
        r = await c.post(f"/prompts/{p['id']}/versions", json={"content": content})
        assert r.status_code == 201, r.text
    for version in (3, 1):
        r = await c.put(f"/prompts/{p['id']}/versions/{version}/activate",
                        json={"reason": "demo"})
        assert r.status_code == 200, r.text
    r = await c.put(f"/prompts/{p['id']}/environments/staging", json={"version": 3})
    assert r.status_code == 200, r.text
    return p["id"]


async def test_export_then_sync_after_a_rollback_is_a_noop(live_url, tmp_path):
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        pid = await _chat_prompt_rolled_back(c)
    code, out = await harness("prompts", "export", str(tmp_path), "--url", live_url)
    assert code == 0, out
    doc = yaml.safe_load((tmp_path / "support-reply.yaml").read_text())
    assert doc["version"] == 1 and doc["content"] == V1
    for _ in range(2):
        code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
        assert code == 0, out
        assert "unchanged" in out and "new version" not in out, out
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        assert [v["version"] for v in await _versions(c, pid)] == [1, 2, 3]
        # the environments move after the export: the untouched file is still a no-op
        await c.put(f"/prompts/{pid}/versions/2/activate", json={"reason": "moved"})
        await c.put(f"/prompts/{pid}/environments/staging", json={"version": 1})
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert code == 0 and "unchanged" in out and "new version" not in out, out
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        assert len(await _versions(c, pid)) == 3


async def test_an_edited_export_is_a_version_derived_from_what_it_was_exported_from(
        live_url, tmp_path):
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        pid = await _chat_prompt_rolled_back(c)
    code, out = await harness("prompts", "export", str(tmp_path), "--environment", "staging",
                              "--url", live_url)
    assert code == 0, out
    f = tmp_path / "support-reply.yaml"
    doc = yaml.safe_load(f.read_text())
    assert doc["version"] == 3 and doc["content"] == V3  # staging's version, not the active
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert code == 0 and "unchanged" in out and "new version" not in out, out
    doc["content"][0]["content"] = "Be very brief and kind about {{ product }}."
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out = await harness("prompts", "sync", str(tmp_path), "--dry-run", "--url", live_url)
    assert code == 0 and "new version v4 (dry run)" in out, out
    assert "-Be very brief about {{ product }}." in out  # the diff is against v3
    assert "-Q: {{ question }}" not in out  # unchanged since v3: context, not a change
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert code == 0 and "new version v4" in out, out
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        v4 = (await c.get(f"/prompts/{pid}/versions/4")).json()
        assert v4["derived_from"] == 3 and v4["content"] == doc["content"]
    # syncing the same file again: its content is v4 now, nothing to add
    code, out = await harness("prompts", "sync", str(tmp_path), "--url", live_url)
    assert code == 0 and "unchanged" in out and "new version" not in out, out
    async with httpx.AsyncClient(timeout=60, base_url=live_url) as c:
        assert len(await _versions(c, pid)) == 4


def test_demo_twice_on_one_database_adds_no_identical_versions(db_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": db_url, "HARNESS_LOG_JSON": "false",
           "HARNESS_DATA_DIR": str(tmp_path), "HARNESS_HOME": str(tmp_path), "COLUMNS": "160"}
    outs = []
    for _ in range(2):
        r = processes.run([*HARNESS, "demo"], env=env, capture_output=True, text=True,
                          timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        outs.append(r.stdout)
    assert "rolled back: support-bot resolves v1" in outs[1]
    assert "activated v2: support-bot now resolves v2 (was v1)" in outs[1]

    async def versions() -> list[tuple[int, str]]:
        import asyncpg

        conn = await asyncpg.connect(db_url)
        try:
            rows = await conn.fetch("SELECT v.version, v.content::text FROM prompt_versions v "
                                    "JOIN prompts p ON p.id = v.prompt_id "
                                    "WHERE p.name = 'support-reply' ORDER BY v.version")
        finally:
            await conn.close()
        return [(r["version"], r["content"]) for r in rows]

    got = asyncio.run(versions())
    assert [v for v, _ in got] == [1, 2]
    assert len({content for _, content in got}) == 2
