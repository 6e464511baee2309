"""The ``harness`` command line."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sys
import threading
import time
from typing import Annotated

import typer
from rich.console import Console

from harness.config import get_settings
from harness.logging import configure_logging

app = typer.Typer(help="harness: prompt registry, datasets, evaluation runs.",
                  no_args_is_help=True, add_completion=False)
keys_app = typer.Typer(help="API keys (stored hashed).", no_args_is_help=True)
projections_app = typer.Typer(help="Read models.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(projections_app, name="projections")

console = Console()
err = Console(stderr=True)


def database_url() -> str:
    from harness.db import resolve_database_url

    s = get_settings()
    return resolve_database_url(s.database_url, s.pgdata_dir)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _prepare(url: str) -> int:
    """Migrate and return how many active API keys exist."""
    from harness import apikeys
    from harness.db import create_pool
    from services.registry.runtime import migrate_all

    pool = await create_pool(url, min_size=1, max_size=2)
    try:
        await migrate_all(pool)
        return await apikeys.active_key_count(pool)
    finally:
        await pool.close()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn in a background thread (for demo and eval commands)."""

    def __init__(self, app, host: str, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{host}:{port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the registry did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@app.command()
def up(
    host: Annotated[str, typer.Option(help="bind address")] = None,  # type: ignore[assignment]
    port: Annotated[int, typer.Option(help="port")] = None,  # type: ignore[assignment]
    insecure: Annotated[bool, typer.Option(help="allow a non-loopback bind without keys")] = False,
) -> None:
    """Start the registry, the outbox relay and the runner on embedded defaults; prints
    the URLs."""
    import uvicorn

    from services.registry.app import create_app

    s = get_settings()
    host = host or s.host
    port = port or s.port
    configure_logging(s.log_level, s.log_json)
    url = database_url()
    keys = asyncio.run(_prepare(url))
    if keys == 0:
        if not is_loopback(host) and not (insecure or s.insecure):
            err.print(f"[red]refusing to bind {host} without API keys[/red]: create one with "
                      "`harness keys create --name NAME --role admin`, or pass --insecure")
            raise typer.Exit(2)
        console.print("[yellow]no API keys: running open (local mode); "
                      "callers may name themselves with X-Actor[/yellow]")
    where = "DATABASE_URL" if s.database_url else f"embedded PostgreSQL ({s.pgdata_dir})"
    console.print(f"[bold]harness registry[/bold] on http://{host}:{port}  (API docs: "
                  f"http://{host}:{port}/docs)  database: {where}")
    uvicorn.run(create_app(url, local_stack=True), host=host, port=port,
                log_level=s.log_level.lower())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="who owns the key (recorded as the actor)")],
    role: Annotated[str, typer.Option(help="viewer | editor | admin")] = "editor",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from harness import apikeys
    from harness.db import create_pool

    async def run() -> str:
        url = database_url()
        await _prepare(url)
        pool = await create_pool(url, min_size=1, max_size=1)
        try:
            return await apikeys.create_key(pool, name, role)
        finally:
            await pool.close()

    try:
        key = asyncio.run(run())
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"created {role} key for {name} (shown once):")
    print(key)


@projections_app.command("rebuild")
def projections_rebuild() -> None:
    """Drop the read models and replay every event into them."""
    from harness.db import create_pool
    from harness.eventstore import EventStore
    from services.registry import projections

    async def run() -> int:
        url = database_url()
        await _prepare(url)
        pool = await create_pool(url, min_size=1, max_size=2)
        try:
            return await projections.rebuild(EventStore(pool))
        finally:
            await pool.close()

    started = time.perf_counter()
    n = asyncio.run(run())
    console.print(f"replayed {n} events into {len(projections.read_model_tables())} read models "
                  f"in {time.perf_counter() - started:.2f}s")


@app.command()
def demo(
    url: Annotated[str | None, typer.Option(help="use a running registry (default: start one)")]
    = None,
) -> None:
    """Walk through the registry: a prompt with two versions, an application, activate,
    roll back, and the history."""
    from harness.demo import run_demo

    s = get_settings()
    configure_logging("WARNING", s.log_json)
    url = url or s.url
    if url:
        run_demo(url, console)
        return
    from services.registry.app import create_app

    db = database_url()
    asyncio.run(_prepare(db))
    with ServerThread(create_app(db, local_stack=True), "127.0.0.1",
                      _free_port("127.0.0.1")) as server:
        console.print(f"registry started at {server.url} (embedded defaults)")
        run_demo(server.url, console)


def main() -> None:  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    app()
