"""Snapshots of aggregates' states (the ``snapshots`` table).

A snapshot is the state one aggregate folded from one stream up to a stream version, as
JSON in the shape ``schema_version`` of that state. Readers ignore a snapshot of another
shape and fold the stream instead; snapshots are derived data, so deleting them loses
nothing (``harness projections rebuild`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Snapshot:
    schema_version: int
    stream_version: int
    state: Any


async def load_snapshot(conn: asyncpg.Connection, stream_id: str, aggregate: str
                        ) -> Snapshot | None:
    row = await conn.fetchrow(
        "SELECT schema_version, stream_version, state FROM snapshots "
        "WHERE stream_id = $1 AND aggregate = $2", stream_id, aggregate)
    return Snapshot(row["schema_version"], row["stream_version"], row["state"]) if row else None


async def save_snapshot(conn: asyncpg.Connection, stream_id: str, aggregate: str,
                        snapshot: Snapshot) -> None:
    """Keep ``snapshot`` unless a newer one of the same shape is stored already."""
    await conn.execute(
        "INSERT INTO snapshots (stream_id, aggregate, schema_version, stream_version, state) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id, aggregate) DO UPDATE SET "
        "schema_version = EXCLUDED.schema_version, stream_version = EXCLUDED.stream_version, "
        "state = EXCLUDED.state, recorded_at = now() "
        "WHERE snapshots.stream_version <= EXCLUDED.stream_version "
        "OR snapshots.schema_version <> EXCLUDED.schema_version",
        stream_id, aggregate, snapshot.schema_version, snapshot.stream_version, snapshot.state)


async def delete_snapshots(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM snapshots")
