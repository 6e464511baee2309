"""Local adapter of the scorer's source: the registry's read models in the same process
(on GCP the same port is the registry's REST API, see ``remote.py``)."""

from __future__ import annotations

import asyncpg

from harness.evaluation.models import CaseResult
from services.registry.scores import RESULT_WITH_SCORES

from .ports import ScoringJob


class LocalScoringSource:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def job(self, run_id: str) -> ScoringJob | None:
        row = await self.pool.fetchrow(
            "SELECT id, status, config, snapshot_uri, snapshot_sha256, expected_results FROM runs "
            "WHERE id = $1",
            run_id)
        return ScoringJob.from_run(row) if row is not None else None

    async def results(self, run_id: str) -> list[CaseResult]:
        rows = await self.pool.fetch(
            f"SELECT {RESULT_WITH_SCORES} AS result FROM run_results r WHERE r.run_id = $1",
            run_id)
        return [CaseResult.model_validate(r["result"]) for r in rows]

    async def unscored_runs(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM runs WHERE status = 'completed' "
            "AND scores_recorded < scores_expected ORDER BY requested_at")
        return [r["id"] for r in rows]
