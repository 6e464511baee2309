"""Local adapter of the scorer's source: the registry's read models in the same process
(on GCP the same port is the registry's REST API, see ``remote.py``)."""

from __future__ import annotations

import asyncpg

from harness.evaluation.models import CaseResult
from harness.tracing import feed

from .ports import FedTrace, OnlineEvaluator, ScoringJob

# each result with the scores recorded for it as ``{metric: score}``; a score the result
# itself carries (e.g. an import) is replaced, as in the registry's answers
_RESULTS_WITH_SCORES = (
    "SELECT r.result, coalesce(jsonb_object_agg(s.metric, s.score) "
    "FILTER (WHERE s.metric IS NOT NULL), '{}'::jsonb) AS scores "
    "FROM run_results r LEFT JOIN run_scores s USING (run_id, case_id, target_id, repeat) "
    "WHERE r.run_id = $1 AND ($2::int IS NULL OR r.shard = $2) "
    "GROUP BY r.run_id, r.case_id, r.target_id, r.repeat")


class LocalScoringSource:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def job(self, run_id: str) -> ScoringJob | None:
        row = await self.pool.fetchrow(
            "SELECT id, status, config, snapshot_uri, snapshot_sha256, expected_results FROM runs "
            "WHERE id = $1",
            run_id)
        return ScoringJob.from_run(row) if row is not None else None

    async def results(self, run_id: str, shard: int | None = None) -> list[CaseResult]:
        rows = await self.pool.fetch(_RESULTS_WITH_SCORES, run_id, shard)
        return [CaseResult.model_validate({**r["result"], "scores": r["scores"]}) for r in rows]

    async def unscored_runs(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM runs WHERE status = 'completed' "
            "AND scores_recorded < scores_expected ORDER BY requested_at")
        return [r["id"] for r in rows]


class LocalTraceFeed:
    """Online evaluation's feed (``harness.tracing.feed`` over ``gateway_traces``) and the
    registry's ``evaluators`` and ``trace_scores`` in the same database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def evaluators(self) -> list[OnlineEvaluator]:
        rows = await self.pool.fetch(
            "SELECT id, name, assertion, metric, traffic, sampling_rate, judge_model "
            "FROM evaluators WHERE status = 'active' ORDER BY id")
        return [OnlineEvaluator.model_validate(dict(r)) for r in rows]

    async def next_traces(self, name: str, limit: int) -> list[FedTrace]:
        return [FedTrace.model_validate(d) for d in await feed.read_next(self.pool, name, limit)]

    async def save_checkpoint(self, name: str, position: tuple[str, str]) -> None:
        await feed.save_checkpoint(self.pool, name, position)

    async def scored(self, trace_ids: list[str]) -> set[tuple[str, str]]:
        rows = await self.pool.fetch(
            "SELECT trace_id, actor FROM trace_scores WHERE source = 'evaluator' "
            "AND trace_id = ANY($1::uuid[])", trace_ids)
        return {(r["actor"].removeprefix("evaluator:"), str(r["trace_id"])) for r in rows}
