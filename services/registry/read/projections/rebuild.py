"""``harness projections rebuild``: truncate every read model and replay all events
through :func:`.catalog.apply`, so a rebuild gives identical rows. It runs alongside live
writers without deadlocking (see :func:`rebuild`)."""

from __future__ import annotations

import asyncio

import asyncpg

from harness.eventstore import WRITERS_LOCK, EventStore, delete_snapshots

from .catalog import apply, read_model_tables


async def _lock_read_models(conn: asyncpg.Connection, tables: list[str]) -> None:
    """Take every read-model table exclusively without ever waiting while holding some:
    a reader in a multi-statement transaction may hold one table and want another, in its
    own order. Each try waits briefly (well under the server's deadlock_timeout) inside a
    savepoint whose rollback releases what it got, then tries again."""
    delay = 0.02
    while True:
        try:
            async with conn.transaction():  # a savepoint
                await conn.execute("SET LOCAL lock_timeout = '200ms'")
                await conn.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
                await conn.execute("SET LOCAL lock_timeout = DEFAULT")
            return
        except asyncpg.LockNotAvailableError:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


async def rebuild(store: EventStore, batch_size: int = 2000) -> int:
    """Drop every read-model row and replay all events; one transaction, all or nothing.

    Live writers take the stream's lock, read and then write read-model tables; a
    TRUNCATE that locked tables in its own order deadlocked with them. So the rebuild
    first takes the writers' lock exclusively (``WRITERS_LOCK``: it waits for writers
    inside a transaction to commit; new ones back off and retry, and past their bound
    answer 503 stream-busy), then the tables (see ``_lock_read_models``)."""
    count = 0
    tables = read_model_tables()
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITERS_LOCK)
        await _lock_read_models(conn, tables)
        await conn.execute(f"TRUNCATE {', '.join(tables)}")
        await delete_snapshots(conn)  # derived too: the next command writes them afresh
        position = 0
        while True:
            batch = await store.read_all(position, batch_size, conn=conn)
            if not batch:
                break
            for ev in batch:
                await apply(conn, ev)
                count += 1
            position = batch[-1].global_position
    return count
