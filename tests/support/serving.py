"""An ASGI app served by a real uvicorn on a loopback port, in the test's event loop."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from harness.net import free_port


@asynccontextmanager
async def serve_app(app, *, lifespan: str = "off"):
    """Serve ``app`` until the block ends; yields its base URL."""
    import uvicorn

    port = free_port()
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
