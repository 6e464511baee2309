"""Database connections: any PostgreSQL via DATABASE_URL, or an embedded one (pgserver)."""

from __future__ import annotations

import asyncio
import time
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import structlog

from harness.config import get_settings

log = structlog.get_logger(__name__)

_embedded: dict[str, Any] = {}


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=_dumps, decoder=orjson.loads, schema="pg_catalog")


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Pool release hook. asyncpg already rolled back any open transaction and dropped
    listeners; harness keeps no other session state (no SET, no session advisory locks
    left held, LISTEN only with explicit UNLISTEN), so the default ``RESET ALL`` /
    ``UNLISTEN *`` round trip on every release is skipped."""


def import_pgserver():
    """``import pgserver``, lazily (only the local default needs it) and quietly: at import it
    asks platformdirs for a runtime folder, which warns "XDG_RUNTIME_DIR is not set" on every
    command where that is usual (root, containers, CI) although its fallback works."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
        import pgserver
    return pgserver


def embedded_database_url(pgdata: Path) -> str:
    """Start (or reuse) an embedded PostgreSQL under ``pgdata`` and return its URL."""
    key = str(pgdata.resolve())
    if key not in _embedded:
        pgserver = import_pgserver()
        pgdata.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: leave it running for other processes sharing the folder;
        # pgserver stops it when the last user is gone.
        for attempt in range(5):
            try:
                server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
                break
            except Exception as exc:  # noqa: BLE001 - pg_ctl failed: retried, then raised
                # the previous command's server may still be shutting down in this folder
                # (commands run one after another): pg_ctl start fails until it is gone
                if attempt == 4:
                    raise
                log.warning("embedded_postgres_retry", pgdata=key, error=str(exc)[:300])
                time.sleep(0.5 * (attempt + 1))
        _embedded[key] = server
        log.info("embedded_postgres_started", pgdata=key)
    return _embedded[key].get_uri()


def resolve_database_url(database_url: str | None, pgdata: Path) -> str:
    return database_url or embedded_database_url(pgdata)


async def create_pool(url: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    last: Exception | None = None
    for _ in range(30):
        try:
            return await asyncpg.create_pool(
                url, min_size=min_size, max_size=max_size, init=_init_connection,
                reset=_reset_connection,
                server_settings={"application_name": get_settings().service},
            )
        except (OSError, asyncpg.CannotConnectNowError) as exc:
            last = exc
            await asyncio.sleep(0.2)
    raise RuntimeError(f"cannot connect to PostgreSQL: {last}")


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn
