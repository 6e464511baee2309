"""The gateway (with the registry) served by uvicorn on loopback, for integration tests."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager

import httpx
import openai

from services.gateway.app import create_gateway_app
from services.gateway.config import GatewaySettings
from services.gateway.keys import create_key


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


@asynccontextmanager
async def serve_app(app, *, lifespan: str = "off"):
    """Any ASGI app on a loopback port, in the test's event loop; yields its URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan=lifespan))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serve_gateway(runtime, settings: GatewaySettings):
    app = create_gateway_app(runtime, settings)
    app.state.gateway.start()
    try:
        async with serve_app(app) as url:
            yield ServedGateway(app, url, runtime)
    finally:
        await app.state.gateway.stop()
