"""Ordered SQL migrations, applied at start-up and recorded in ``schema_migrations``."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

EVENTSTORE_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK = 72435911


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.sql") if p.name[:4].isdigit())


async def migrate(conn: asyncpg.Connection, sources: list[tuple[str, Path]]) -> list[str]:
    """Apply every not-yet-applied ``NNNN_name.sql`` of each (namespace, folder), in order.

    Each file runs in its own transaction; concurrent starters wait on an advisory lock.
    Returns the ids applied now.
    """
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["id"] for r in await conn.fetch("SELECT id FROM schema_migrations")}
        for namespace, folder in sources:
            for path in _files(folder):
                mid = f"{namespace}/{path.stem}"
                if mid in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations (id) VALUES ($1)", mid)
                applied_now.append(mid)
                log.info("migration_applied", id=mid)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)
    return applied_now
