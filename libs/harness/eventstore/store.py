"""The PostgreSQL event store (asyncpg)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from harness.events import EventRegistry, NewEvent, StoredEvent
from harness.events import registry as default_registry

CONFLICT_SQLSTATE = "HX409"

_COLUMNS = (
    "global_position, event_id, stream_id, stream_version, type, schema_version, "
    "data, metadata, recorded_at"
)


_APPEND_SQL = ("SELECT global_position, event_id, stream_version, recorded_at "
               "FROM harness_append($1, $2, $3, $4, $5, $6, $7)")


class ConcurrencyError(Exception):
    """The stream is not at the expected version."""

    def __init__(self, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(f"stream {stream_id} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventStore:
    """Append with an expected version; read a stream or everything after a position.

    Every method takes an optional ``conn`` so callers can append and update read models
    in one transaction.
    """

    def __init__(self, pool: asyncpg.Pool, registry: EventRegistry | None = None) -> None:
        self.pool = pool
        self.registry = registry or default_registry
        self.events_read = 0
        """Events returned by :meth:`read_stream` so far (what a command's load costs)."""

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        events: Sequence[NewEvent],
        *,
        conn: asyncpg.Connection | None = None,
    ) -> list[StoredEvent]:
        """Append atomically; returns the events stored now (re-appended ids are skipped)."""
        if not events:
            return []
        seen: set = set()
        unique = []
        for e in events:  # an id twice in one batch counts once, like a re-append
            if e.event_id not in seen:
                seen.add(e.event_id)
                unique.append(e)
        events = unique
        args = (
            stream_id, expected_version,
            [e.event_id for e in events], [e.type for e in events],
            [e.schema_version for e in events], [e.data for e in events],
            [e.metadata.model_dump(exclude_none=True) for e in events],
        )
        try:
            rows = await (conn or self.pool).fetch(_APPEND_SQL, *args)
        except asyncpg.PostgresError as exc:
            if getattr(exc, "sqlstate", None) == CONFLICT_SQLSTATE:
                actual = int(getattr(exc, "detail", "0") or 0)
                raise ConcurrencyError(stream_id, expected_version, actual) from exc
            raise
        by_id = {e.event_id: e for e in events}
        stored = []
        for r in sorted(rows, key=lambda r: r["global_position"]):
            e = by_id[r["event_id"]]
            stored.append(StoredEvent.model_construct(
                global_position=r["global_position"], event_id=e.event_id, stream_id=stream_id,
                stream_version=r["stream_version"], type=e.type, schema_version=e.schema_version,
                data=e.data, metadata=e.metadata, recorded_at=r["recorded_at"]))
        return stored

    async def read_stream(
        self,
        stream_id: str,
        *,
        until: datetime | None = None,
        types: Sequence[str] | None = None,
        after_version: int = 0,
        conn: asyncpg.Connection | None = None,
    ) -> list[StoredEvent]:
        """All events of a stream in version order (upcast); ``until`` keeps those recorded
        at or before that time, ``types`` those of these types, ``after_version`` those
        after that stream version (the tail after a snapshot)."""
        q = f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1"
        args: list = [stream_id]
        if after_version:
            args.append(after_version)
            q += f" AND stream_version > ${len(args)}"
        if until is not None:
            args.append(until)
            q += f" AND recorded_at <= ${len(args)}"
        if types is not None:
            args.append(list(types))
            q += f" AND type = ANY(${len(args)})"
        q += " ORDER BY stream_version"
        rows = await (conn or self.pool).fetch(q, *args)
        self.events_read += len(rows)
        return [self.registry.upcast_stored(StoredEvent.from_record(r)) for r in rows]

    async def stream_version(self, stream_id: str, conn: asyncpg.Connection | None = None) -> int:
        v = await (conn or self.pool).fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", stream_id
        )
        return int(v)

    async def read_all(
        self,
        after_position: int = 0,
        limit: int = 1000,
        *,
        types: Sequence[str] | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> list[StoredEvent]:
        """Events with ``global_position > after_position`` in global order (upcast)."""
        if types:
            rows = await (conn or self.pool).fetch(
                f"SELECT {_COLUMNS} FROM events WHERE global_position > $1 AND type = ANY($3) "
                "ORDER BY global_position LIMIT $2",
                after_position, limit, list(types),
            )
        else:
            rows = await (conn or self.pool).fetch(
                f"SELECT {_COLUMNS} FROM events WHERE global_position > $1 "
                "ORDER BY global_position LIMIT $2",
                after_position, limit,
            )
        return [self.registry.upcast_stored(StoredEvent.from_record(r)) for r in rows]

    async def head_position(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events"))
