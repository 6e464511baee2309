"""A command's cost does not grow with its stream's history: it reads the aggregate's
snapshot and the events after it (counted by ``EventStore.events_read``)."""

from __future__ import annotations

import dataclasses

from harness.events import EventMetadata, streams
from harness.events.registry_events import PromptVersionActivated
from services.registry.commands import pure
from services.registry.domain import prompts as domain
from services.registry.handlers.prompt_aggregate import PROMPT
from services.registry.read import projections
from services.registry.read.projections.rebuild import rebuild

META = EventMetadata(actor="test")


async def _prompt_with_events(client, runtime, events: int) -> str:
    """A prompt with versions 1 and 2 whose stream holds ``events`` events (padded with
    activations appended and projected as the registry does)."""
    r = await client.post("/prompts", json={"name": "long", "content": "v1"})
    pid = r.json()["id"]
    r = await client.post(f"/prompts/{pid}/versions", json={"content": "v2", "activate": True})
    assert r.status_code == 201, r.text
    stream = streams.prompt(pid)
    version = await runtime.store.stream_version(stream)
    pad = [PromptVersionActivated(prompt_id=pid, version=1 + i % 2, previous_version=2 - i % 2,
                                  reason="pad").to_new(META) for i in range(events - version)]
    async with runtime.pool.acquire() as conn, conn.transaction():
        for ev in await runtime.store.append(stream, version, pad, conn=conn):
            await projections.apply(conn, ev)
    return pid


async def _activate(client, runtime, pid: str, version: int) -> int:
    """Activate ``version``; returns how many events the command read."""
    before = runtime.store.events_read
    r = await client.put(f"/prompts/{pid}/versions/{version}/activate", json={})
    assert r.status_code == 200, r.text
    assert r.json()["active"]["version"] == version
    return runtime.store.events_read - before


async def _snapshot_row(runtime, pid: str):
    return await runtime.pool.fetchrow(
        "SELECT schema_version, stream_version FROM snapshots WHERE stream_id = $1 "
        "AND aggregate = 'prompt'", streams.prompt(pid))


async def _whole_fold(runtime, pid: str) -> domain.PromptState:
    async with runtime.pool.acquire() as conn:
        return (await PROMPT.events.load(conn, runtime.store, streams.prompt(pid))).state


async def test_a_prompt_with_1000_events_decides_reading_at_most_every_events(client, runtime):
    pid = await _prompt_with_events(client, runtime, 1000)  # ends active on version 1
    # no snapshot yet: the first command folds the stream once and leaves one behind
    assert await _activate(client, runtime, pid, 2) == 1000
    assert tuple(await _snapshot_row(runtime, pid)) == (domain.STATE_SCHEMA, 1001)
    read = [await _activate(client, runtime, pid, 1 + i % 2) for i in range(3 * PROMPT.every)]
    assert max(read) < PROMPT.every, read
    assert (await _snapshot_row(runtime, pid))["stream_version"] > 1001
    async with runtime.pool.acquire() as conn:
        loaded = await PROMPT.load(conn, runtime.store, streams.prompt(pid))
    assert loaded.version == 1001 + 3 * PROMPT.every
    assert loaded.state == await _whole_fold(runtime, pid)


async def test_a_snapshot_of_another_schema_version_is_ignored_and_rewritten(client, runtime):
    pid = await _prompt_with_events(client, runtime, 100)
    await _activate(client, runtime, pid, 2)
    assert (await _snapshot_row(runtime, pid))["schema_version"] == domain.STATE_SCHEMA
    newer = dataclasses.replace(PROMPT, schema_version=domain.STATE_SCHEMA + 1)
    before = runtime.store.events_read
    state, _ = await runtime.commands.execute(
        streams.prompt(pid), newer, pure(lambda s: domain.decide(
            domain.ActivateVersion(version=1), s)), META)
    assert runtime.store.events_read - before == 101  # folded from the start
    assert tuple(await _snapshot_row(runtime, pid)) == (domain.STATE_SCHEMA + 1, 102)
    assert state == await _whole_fold(runtime, pid)
    # the old code reads the newer snapshot as foreign too, and rebuilds its own
    assert await _activate(client, runtime, pid, 2) == 102
    assert (await _snapshot_row(runtime, pid))["schema_version"] == domain.STATE_SCHEMA


async def test_projections_rebuild_drops_snapshots_and_commands_rebuild_them(client, runtime):
    pid = await _prompt_with_events(client, runtime, 60)
    await _activate(client, runtime, pid, 2)
    assert await _snapshot_row(runtime, pid) is not None
    await rebuild(runtime.store)
    assert await _snapshot_row(runtime, pid) is None
    assert await _activate(client, runtime, pid, 1) == 61
    assert (await _snapshot_row(runtime, pid))["stream_version"] == 62
    r = await client.get(f"/prompts/{pid}")
    assert r.json()["active"]["version"] == 1
