"""The generator's progress port over the registry's read model, in the same process."""

from __future__ import annotations

import asyncpg

from .ports import Recorded


class LocalGenerationProgress:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def recorded(self, generation_id: str) -> Recorded | None:
        row = await self.pool.fetchrow(
            "SELECT status, batches, generated, failed FROM generations WHERE id = $1",
            generation_id)
        if row is None:
            return None
        return Recorded(status=row["status"], batches=frozenset(row["batches"]),
                        generated=row["generated"], failed=row["failed"])

    async def unfinished(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM generations WHERE status IN ('queued', 'running') "
            "ORDER BY requested_at")
        return [r["id"] for r in rows]
