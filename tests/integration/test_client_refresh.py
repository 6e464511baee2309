"""The client over real HTTP: activations pushed through SSE, the registry going away and
coming back (last good value, on-disk cache across a restart, SSE resume)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path

import pytest
import uvicorn

from harness.client import AsyncHarnessClient, Unavailable
from services.registry.app import create_app
from tests.support import processes

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    """The registry on a fixed loopback port that can be stopped and started again."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        config = uvicorn.Config(create_app(runtime=self.runtime), host="127.0.0.1",
                                port=self.port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task
        self._server = self._task = None


@pytest.fixture
async def server(runtime):
    srv = LiveServer(runtime)
    await srv.start()
    yield srv
    if srv._server is not None:
        await srv.stop()


async def _setup(client, name="bot"):
    p = (await client.post("/prompts", json={"name": "greet",
                                             "content": "Hello {{ name }}"})).json()
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "Hey {{ name }}"})
    a = (await client.post("/applications", json={"name": name, "model_id": "echo",
                                                  "prompt_id": p["id"]})).json()
    return p, a


async def _until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.005)
    return predicate()


async def test_activation_reaches_running_client_by_push(client, live_url):
    """ttl_s=3600 and no polling: each activation can only reach the cache by the event
    stream. How fast is measured (and printed) but not asserted: timings go in bench/."""
    p, _ = await _setup(client)
    async with AsyncHarnessClient(live_url, ttl_s=3600) as hc:
        assert (await hc.resolve("bot")).version == 1
        assert (await hc.get_prompt("greet")).version == 1
        assert await hc.wait_connected(5)
        latencies = []
        for target in (2, 1, 2, 1, 2):
            t0 = time.perf_counter()
            r = await client.put(f"/prompts/{p['id']}/versions/{target}/activate",
                                 json={"reason": "test"})
            assert r.status_code == 200, r.text
            assert await _until(lambda t=target: hc.cached("bot").version == t
                                and hc.cached("greet", kind="prompt").version == t, 60)
            latencies.append(time.perf_counter() - t0)
        assert await _until(lambda: not hc._tasks)  # background refetches done
        requests = hc.stats.requests
        now = await hc.resolve("bot")
        assert (now.version, now.source) == (2, "memory") and hc.stats.requests == requests
        assert hc.stats.events >= 5
        print(f"activation → client cache over SSE: median "
              f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


async def test_registry_down_serves_last_good_value(client, server):
    p, _ = await _setup(client)
    async with AsyncHarnessClient(server.url, ttl_s=0, timeout_s=1,
                                  reconnect_max_s=0.5) as hc:
        good = await hc.resolve("bot")
        prompt = await hc.get_prompt("greet")
        await server.stop()
        assert await _until(lambda: not hc.connected)
        served = await hc.resolve("bot")
        assert (served.version, served.etag, served.source, served.stale) == (
            1, good.etag, "memory", True)
        requests = hc.stats.requests
        # after a failure, callers are answered at once for a while: no request, no timeout
        assert (await hc.get_prompt("greet")).content == prompt.content
        assert (await hc.resolve("bot")).stale and hc.stats.requests == requests
        assert hc.stats.served_stale == 3
        with pytest.raises(Unavailable):  # never seen, no fallback
            await hc.resolve("other-app")
        await server.start()
        assert await hc.wait_connected(5)  # the stream is back: requests resume at once
        back = await hc.resolve("bot")
        assert (back.source, back.stale, back.version) == ("registry", False, 1)


async def test_cache_dir_survives_a_restart_with_the_registry_down(client, server, tmp_path):
    cache = tmp_path / "cache"
    _, a = await _setup(client)
    async with AsyncHarnessClient(server.url, cache_dir=cache, refresh="none") as first:
        good = await first.resolve("bot")
        await first.resolve(a["id"])
        await first.get_prompt("greet")
        await first.get_prompt("greet", 2)
    files = sorted(cache.iterdir())
    assert len(files) == 4 and all(f.suffix == ".json" for f in files)
    assert not [f for f in files if f.name.startswith(".tmp")]
    assert all(json.loads(f.read_text())["format"] == 1 for f in files)
    await server.stop()

    # "restart": a new process-like client with an empty memory and the registry down
    async with AsyncHarnessClient(server.url, cache_dir=cache, timeout_s=1, refresh="none",
                                  retry_after_s=0.2) as second:
        served = await second.resolve("bot")
        assert (served.version, served.etag, served.source, served.stale) == (
            1, good.etag, "disk", True)
        assert (await second.resolve(a["id"])).source == "disk"
        pv = await second.get_prompt("greet", 2)
        assert (pv.version, pv.content, pv.source) == (2, "Hey {{ name }}", "disk")
        assert (await second.get_prompt("greet")).version == 1
        assert second.stats.served_disk == 4
        # the registry comes back: the disk value's ETag is still current → 304
        await server.start()
        await asyncio.sleep(0.25)  # retry_after_s
        confirmed = await second.resolve("bot")
        assert (confirmed.source, confirmed.stale, confirmed.etag) == (
            "registry", False, good.etag)
        assert second.stats.not_modified == 1


async def test_sse_resumes_after_dropped_connection_without_missing_activation(
        client, server):
    p, _ = await _setup(client)
    seen: list[dict] = []
    async with AsyncHarnessClient(server.url, ttl_s=3600, timeout_s=1,
                                  reconnect_max_s=0.5) as hc:
        hc.on_event(seen.append)
        assert (await hc.resolve("bot")).version == 1
        assert await hc.wait_connected(5)
        await client.put(f"/prompts/{p['id']}/versions/2/activate")
        assert await _until(lambda: hc.cached("bot").version == 2, 3)
        position = hc.last_event_position
        assert position is not None

        await server.stop()  # drops the stream
        assert await _until(lambda: not hc.connected)
        # activated while the client is disconnected (the registry API itself still works)
        r = await client.put(f"/prompts/{p['id']}/versions/1/activate")
        assert r.status_code == 200
        missed = (await client.get("/events", params={"after": position})).json()["items"]
        assert [e["type"] for e in missed] == ["PromptVersionActivated"]
        await server.start()

        assert await _until(lambda: hc.cached("bot").version == 1, 10)
        # delivered by resuming from Last-Event-ID (a fresh stream starts at the head and
        # would never send it), exactly once
        resumed = [e for e in seen if e["global_position"] == missed[0]["global_position"]]
        assert len(resumed) == 1 and resumed[0]["data"]["version"] == 1
        assert hc._sse is not None and hc._sse.connects == 2
        assert hc.connected


async def test_example_subscriber_prints_activations(client, live_url):
    p, _ = await _setup(client)
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST")}
    proc = await processes.spawn_async(
        sys.executable, str(ROOT / "examples" / "subscriber.py"), "--url", live_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        line = await asyncio.wait_for(proc.stderr.readline(), 20)
        assert line.startswith(b"connected to"), line
        await client.put(f"/prompts/{p['id']}/versions/2/activate", json={"reason": "ship it"})
        out = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert f"prompt {p['id']} activated v2 (was v1) by local: ship it" in out
    finally:
        await processes.stop_async(proc)
