"""Revocation takes effect at once on every instance (NOTIFY harness_keys), revoking the
last API key never reopens a server, and /metrics needs a key once the server has keys.

The key caches here are given an hour of TTL: only the notification can explain a
revocation seen by the other instance."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager

import httpx

from harness import apikeys
from harness.web.auth import Authenticator
from services.bootstrap import gateway_app
from services.gateway.config import GatewaySettings
from services.registry.runtime import Runtime

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@asynccontextmanager
async def _instance(db_url: str, settings: GatewaySettings | None = None):
    """One gateway + registry process: its own runtime, pool, LISTEN connection, caches."""
    rt = await Runtime.start(db_url, relay=False, pool_max=4)
    app = gateway_app(rt, settings or GatewaySettings(num_retries=0))
    app.state.gateway.keys.ttl_s = 3600.0
    rt.auth.ttl_s = 3600.0
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://gw") as h:
            yield rt, app, h
    finally:
        await app.state.gateway.stop()
        await rt.stop()


async def _until(check, what: str) -> None:
    """Poll ``check`` (a hang guard of 30 s, not a timing assertion)."""
    for _ in range(1500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def test_a_revoked_gateway_key_stops_working_on_every_instance(db_url, runtime):
    async with _instance(db_url) as (_, _, a), _instance(db_url) as (_, b_app, b):
        r = await a.post("/gateway/keys", json={"name": "app"})  # open mode: local admin
        assert r.status_code == 201, r.text
        key_id, secret = r.json()["id"], r.json()["key"]
        auth = {"Authorization": f"Bearer {secret}"}
        for h in (a, b):  # both instances have the key cached now
            assert (await h.post("/v1/chat/completions", json=CHAT, headers=auth)
                    ).status_code == 200
        assert await b_app.state.gateway.keys.lookup(secret) is not None

        assert (await a.delete(f"/gateway/keys/{key_id}")).status_code == 204
        r = await a.post("/v1/chat/completions", json=CHAT, headers=auth)
        assert r.status_code == 401  # this instance: at once, no wait at all

        async def refused_on_b() -> bool:
            r = await b.post("/v1/chat/completions", json=CHAT, headers=auth)
            return r.status_code == 401

        await _until(refused_on_b, "instance B refuses the revoked key")  # TTL is an hour
        assert (await b.post("/v1/chat/completions", json=CHAT, headers=auth)
                ).json()["error"]["code"] == "invalid-key"

        # revoked from the CLI's code path (another process): the same
        r = await b.post("/gateway/keys", json={"name": "app2"})
        secret2 = r.json()["key"]
        auth2 = {"Authorization": f"Bearer {secret2}"}
        for h in (a, b):
            assert (await h.post("/v1/chat/completions", json=CHAT, headers=auth2)
                    ).status_code == 200
        from services.gateway.keys import revoke_matching

        assert [g["name"] for g in await revoke_matching(runtime.pool, secret2[:8])] == ["app2"]
        for h in (a, b):
            async def refused(h=h) -> bool:
                r = await h.post("/v1/chat/completions", json=CHAT, headers=auth2)
                return r.status_code == 401

            await _until(refused, "both instances refuse the key revoked elsewhere")


async def test_api_keys_revoked_anywhere_and_the_server_stays_closed(db_url, runtime):
    async with _instance(db_url) as (_, _, a), _instance(db_url) as (_, _, b):
        assert (await b.get("/prompts")).status_code == 200  # open mode (loopback)
        key = await apikeys.create_key(runtime.pool, "ops", "admin")
        auth = {"X-API-Key": key}

        async def closed(h=b) -> bool:
            return (await h.get("/prompts")).status_code == 401

        await _until(closed, "a created key closes the running server")
        for h in (a, b):
            assert (await h.get("/prompts", headers=auth)).status_code == 200

        assert [k["name"] for k in await apikeys.revoke_key(runtime.pool, key[:7])] == ["ops"]
        for h in (a, b):
            async def refused(h=h) -> bool:
                return (await h.get("/prompts", headers=auth)).status_code == 401

            await _until(refused, "the revoked key is refused everywhere")
            r = await h.get("/prompts")  # no key at all: still closed, not anonymous admin
            assert r.status_code == 401, r.text
            assert (await h.post("/prompts", json={"name": "x", "content": "y"},
                                 headers={"X-Actor": "mallory"})).status_code == 401
        # a server started afterwards is closed too: the fact is persisted
        assert await Authenticator(runtime.pool).keys_required()
        assert await apikeys.active_key_count(runtime.pool) == 0
        assert await apikeys.keys_ever_created(runtime.pool)


async def test_metrics_needs_a_metrics_key_once_the_server_has_keys(db_url, runtime):
    async with _instance(db_url) as (_, _, h):
        assert (await h.get("/metrics")).status_code == 200  # open mode (loopback)
        scraper = await apikeys.create_key(runtime.pool, "prometheus", "metrics")
        viewer = await apikeys.create_key(runtime.pool, "ana", "viewer")

        async def closed() -> bool:
            return (await h.get("/metrics")).status_code == 401

        await _until(closed, "/metrics needs a key")
        r = await h.get("/metrics", headers={"Authorization": f"Bearer {scraper}"})
        assert r.status_code == 200 and "harness_gateway" in r.text
        assert (await h.get("/metrics", headers={"X-API-Key": viewer})).status_code == 200
        # the scraper's key reads nothing else
        r = await h.get("/prompts", headers={"X-API-Key": scraper})
        assert r.status_code == 403 and "needs viewer" in r.json()["detail"]
        assert (await h.get("/metrics/usage", headers={"X-API-Key": scraper})).status_code == 403

    public = GatewaySettings(num_retries=0, metrics_public=True)
    async with _instance(db_url, public) as (_, _, h):
        assert (await h.get("/metrics")).status_code == 200  # opted out: no key needed


async def test_revoking_needs_a_real_identifier(runtime):
    import pytest

    with pytest.raises(ValueError):
        await apikeys.revoke_key(runtime.pool, "hk")
    assert await apikeys.revoke_key(runtime.pool, str(uuid.uuid4())) == []
