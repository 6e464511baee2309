"""Serialising writers of a stream without letting one busy stream take the whole pool.

Commands on one stream run one at a time (a transaction-level advisory lock on the
stream in PostgreSQL). Waiting for that lock *inside* a transaction holds a pooled
connection, so 200 concurrent commands on one prompt used to hold every connection
while they queued, and reads of unrelated prompts waited seconds for a connection.

:func:`locked_transaction` queues writers of a stream in process first (an asyncio lock
per stream, taken before any connection), so a process holds at most one connection per
stream; the PostgreSQL locks (the stream's, for writers in other processes, and
:data:`WRITERS_LOCK`, shared, which a projection rebuild takes exclusively) are then only
*tried*, and on failure the connection goes back to the pool before the next try. The
whole wait is bounded: past it :class:`StreamBusy` is raised, which the API answers as a
503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import asyncpg

DEFAULT_WAIT_S = 5.0

WRITERS_LOCK = 72435912
"""Advisory lock every writer transaction holds *shared* before anything else and a
projection rebuild holds *exclusive*: a rebuild starts only when no writer is inside a
transaction, and writers back off (not wait) while it runs, so the two never wait for
each other's table locks (the deadlock of a rebuild's TRUNCATE with live writers)."""

_TRY_LOCK_SQL = (
    "SELECT pg_try_advisory_xact_lock_shared($2) AND (SELECT "
    "bool_and(pg_try_advisory_xact_lock(hashtextextended(s, 0))) FROM unnest($1::text[]) AS s)"
)


class StreamBusy(Exception):
    """Writers of this stream were queued longer than the bound allows; try again."""

    def __init__(self, stream_id: str, waited_s: float, retry_after_s: int = 1) -> None:
        super().__init__(
            f"stream {stream_id} is busy: other writes to it were queued for more than "
            f"{waited_s:g} s; retry after {retry_after_s} s"
        )
        self.stream_id = stream_id
        self.waited_s = waited_s
        self.retry_after_s = retry_after_s


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class StreamLocks:
    """In-process FIFO locks per stream id (entries disappear when nobody uses them)."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def waiting(self, stream_id: str) -> int:
        """How many writers hold or wait for ``stream_id`` in this process."""
        entry = self._entries.get(stream_id)
        return entry.users if entry is not None else 0

    @asynccontextmanager
    async def hold(self, streams: list[str], deadline: float, wait_s: float
                   ) -> AsyncIterator[None]:
        """Hold every stream of ``streams`` (sorted: one order for every writer), waiting
        until the loop time ``deadline`` at most (``wait_s`` is for the message)."""
        taken: list[_Entry] = []
        joined: list[tuple[str, _Entry]] = []
        try:
            for stream in streams:
                entry = self._entries.setdefault(stream, _Entry())
                entry.users += 1
                joined.append((stream, entry))
                try:
                    async with asyncio.timeout_at(deadline):
                        await entry.lock.acquire()
                except TimeoutError:
                    raise StreamBusy(stream, wait_s) from None
                taken.append(entry)
            yield
        finally:
            for entry in taken:
                entry.lock.release()
            for stream, entry in joined:
                entry.users -= 1
                if entry.users == 0 and self._entries.get(stream) is entry:
                    del self._entries[stream]


@asynccontextmanager
async def locked_transaction(
    pool: asyncpg.Pool,
    locks: StreamLocks,
    streams: Iterable[str],
    wait_s: float = DEFAULT_WAIT_S,
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction that holds the advisory locks of ``streams``.

    Waits at most ``wait_s`` in all (in process, then for writers elsewhere), then raises
    :class:`StreamBusy`. The transaction commits when the block ends normally.
    """
    ordered = sorted(set(streams))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    async with locks.hold(ordered, deadline, wait_s):
        delay = 0.005
        while True:
            async with pool.acquire() as conn:
                tx = conn.transaction()
                await tx.start()
                try:
                    got = await conn.fetchval(_TRY_LOCK_SQL, ordered, WRITERS_LOCK)
                except BaseException:
                    await tx.rollback()
                    raise
                if got:
                    try:
                        yield conn
                    except BaseException:
                        await tx.rollback()
                        raise
                    await tx.commit()
                    return
                # another process writes the stream, or a rebuild runs: free the connection
                await tx.rollback()
            if loop.time() + delay > deadline:
                raise StreamBusy(", ".join(ordered), wait_s)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)
