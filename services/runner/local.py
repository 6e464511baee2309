"""Local adapter of the runner's progress port: the registry's read models in the same
process (on GCP the same port is the registry's REST API, see ``remote.py``; results go to
a ``services.worker_results`` sink either way)."""

from __future__ import annotations

import asyncpg


class LocalRunProgress:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def recorded_keys(self, run_id: str, shard: int | None = None
                            ) -> set[tuple[str, str, int]]:
        rows = await self.pool.fetch(
            "SELECT case_id, target_id, repeat FROM run_results WHERE run_id = $1 "
            "AND ($2::int IS NULL OR shard = $2 OR shard IS NULL)", run_id, shard)
        return {(r["case_id"], r["target_id"], r["repeat"]) for r in rows}

    async def results(self, run_id: str) -> list[dict]:
        rows = await self.pool.fetch("SELECT result FROM run_results WHERE run_id = $1", run_id)
        return [r["result"] for r in rows]

    async def status(self, run_id: str) -> str | None:
        return await self.pool.fetchval("SELECT status FROM runs WHERE id = $1", run_id)

    async def unfinished_runs(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM runs WHERE status IN ('queued', 'running') ORDER BY requested_at")
        return [r["id"] for r in rows]
