"""The gateway (with the registry) served by uvicorn on loopback, for integration tests."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import openai

from services.bootstrap import gateway_app
from services.gateway.config import GatewaySettings
from services.gateway.keys import create_key
from tests.support.serving import serve_app


class ServedGateway:
    def __init__(self, app, url: str, runtime) -> None:
        self.app = app
        self.url = url
        self.gateway = app.state.gateway
        self.pool = runtime.pool

    async def key(self, name: str = "k", **kw) -> str:
        secret, _ = await create_key(self.pool, name, **kw)
        return secret

    async def key_with_id(self, name: str = "k", **kw) -> tuple[str, str]:
        secret, key = await create_key(self.pool, name, **kw)
        return secret, str(key.id)

    def sdk(self, key: str, **kw) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, **kw)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


def stub_settings(stub, **overrides) -> GatewaySettings:
    """Gateway settings sending every model to the loopback stub ``stub``: no retries, a
    10 s timeout, traces flushed every 50 ms; ``overrides`` replace or add settings."""
    return GatewaySettings(**{
        "deployments": {"*": {"api_base": stub.base_url, "api_key": "sk-test"}},
        "num_retries": 0, "timeout_s": 10, "trace_flush_s": 0.05, **overrides})


@asynccontextmanager
async def serve_gateway(runtime, settings: GatewaySettings):
    app = gateway_app(runtime, settings)
    app.state.gateway.start()
    try:
        async with serve_app(app) as url:
            yield ServedGateway(app, url, runtime)
    finally:
        await app.state.gateway.stop()
