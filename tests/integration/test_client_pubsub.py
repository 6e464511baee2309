"""``refresh="pubsub"``: the client's own subscription on the registry-events topic, fed by
the outbox relay through Google's Pub/Sub fake (tools/pubsub-fake), refreshes its cache."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path

import httpx
import jsonschema
import pytest
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from harness.bus import OutboxRelay
from harness.bus.pubsub import PubSubBus, ensure_topology
from harness.client import AsyncHarnessClient, HarnessClientError
from services.registry.app import create_app
from tests.support.pubsub_fake import PROJECT

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


async def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.005)
    return predicate()


async def test_activation_reaches_client_through_pubsub(emulator, runtime, client):
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    await asyncio.to_thread(ensure_topology, PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix)
    relay = OutboxRelay(runtime.store, bus, name=f"pubsub-relay-{prefix}", retry_delay=0.1,
                        listen_url=runtime.database_url)
    relay_task = asyncio.create_task(relay.run())
    p = (await client.post("/prompts", json={"name": "greet", "content": "Hi"})).json()
    await client.post(f"/prompts/{p['id']}/versions", json={"content": "Hello"})
    await client.post("/applications", json={"name": "bot", "model_id": "echo",
                                             "prompt_id": p["id"]})
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    hc = AsyncHarnessClient("http://registry", refresh="pubsub", pubsub_project=PROJECT,
                            pubsub_topic_prefix=prefix, ttl_s=3600, transport=transport)
    received: list[dict] = []
    hc.on_event(received.append)
    try:
        assert (await hc.resolve("bot")).version == 1
        assert await hc.wait_connected(10)
        subscription = hc._pubsub[2]
        assert subscription.startswith(f"projects/{PROJECT}/subscriptions/{prefix}"
                                       "registry-events-client-")
        latencies = []
        for target in (2, 1, 2):
            t0 = time.perf_counter()
            r = await client.put(f"/prompts/{p['id']}/versions/{target}/activate")
            assert r.status_code == 200
            assert await _until(lambda t=target: hc.cached("bot").version == t, 60)
            latencies.append(time.perf_counter() - t0)
        assert hc.stats.events >= 3
        # the messages the relay published follow the documented contract
        for envelope in received:
            name = f"{envelope['type']}.v{envelope['schema_version']}.schema.json"
            jsonschema.validate(envelope, json.loads((DOCS / name).read_text()))
        assert [e["type"] for e in received].count("PromptVersionActivated") >= 3
        print(f"activation → client cache over Pub/Sub (fake): "
              f"{', '.join(f'{x * 1000:.0f}' for x in latencies)} ms")
    finally:
        await hc.aclose()
        relay.stop()
        relay_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay_task
        await bus.close()
    # the client's own subscription is removed on close
    sub = pubsub_v1.SubscriberClient()
    try:
        with pytest.raises(gexc.NotFound):
            await asyncio.to_thread(sub.get_subscription,
                                    request={"subscription": subscription})
    finally:
        sub.close()


async def test_pubsub_refresh_needs_a_project(monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.delenv("HARNESS_GCP_PROJECT", raising=False)
    from harness.config import get_settings

    get_settings.cache_clear()
    try:
        hc = AsyncHarnessClient("http://127.0.0.1:9", refresh="pubsub")
        with pytest.raises(HarnessClientError, match="GOOGLE_CLOUD_PROJECT"):
            await hc.start()
        await hc.aclose()
    finally:
        get_settings.cache_clear()
