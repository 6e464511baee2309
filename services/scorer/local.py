"""Local adapter of the scorer's source: the registry's read models in the same process
(on GCP the same port is the registry's REST API, see ``remote.py``)."""

from __future__ import annotations

import uuid

import asyncpg

from harness.evaluation.models import CaseResult

from .ports import FedTrace, OnlineEvaluator, ScoringJob

# each result with the scores recorded for it as ``{metric: score}``; a score the result
# itself carries (e.g. an import) is replaced, as in the registry's answers
_RESULTS_WITH_SCORES = (
    "SELECT r.result, coalesce(jsonb_object_agg(s.metric, s.score) "
    "FILTER (WHERE s.metric IS NOT NULL), '{}'::jsonb) AS scores "
    "FROM run_results r LEFT JOIN run_scores s USING (run_id, case_id, target_id, repeat) "
    "WHERE r.run_id = $1 GROUP BY r.run_id, r.case_id, r.target_id, r.repeat")


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
        rows = await self.pool.fetch(_RESULTS_WITH_SCORES, run_id)
        return [CaseResult.model_validate({**r["result"], "scores": r["scores"]}) for r in rows]

    async def unscored_runs(self) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM runs WHERE status = 'completed' "
            "AND scores_recorded < scores_expected ORDER BY requested_at")
        return [r["id"] for r in rows]


_FEED = (
    "SELECT written_xid::text AS xid, id, source, application, prompt_id, key_id, key_name, "
    "model_requested, model_answered, latency_ms, cost_usd::float8 AS cost_usd, request, "
    "response FROM gateway_traces "
    "WHERE written_xid IS NOT NULL AND (written_xid, id) > ($1::text::xid8, $2::uuid) "
    "AND written_xid < pg_snapshot_xmin(pg_current_snapshot()) "
    "AND kind = 'chat' AND status < 400 AND source <> 'scorer' "
    "ORDER BY written_xid, id LIMIT $3")


class LocalTraceFeed:
    """Online evaluation's feed over ``gateway_traces`` and the registry's ``evaluators``
    and ``trace_scores`` in the same database.

    Only rows of transactions older than every running one are read
    (``pg_snapshot_xmin``), so a batch committing late is never skipped by a checkpoint
    that moved past it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def evaluators(self) -> list[OnlineEvaluator]:
        rows = await self.pool.fetch(
            "SELECT id, name, assertion, metric, traffic, sampling_rate, judge_model "
            "FROM evaluators WHERE status = 'active' ORDER BY id")
        return [OnlineEvaluator.model_validate(dict(r)) for r in rows]

    async def next_traces(self, name: str, limit: int) -> list[FedTrace]:
        row = await self.pool.fetchrow(
            "SELECT xid::text AS xid, trace_id FROM trace_feed_checkpoints WHERE name = $1",
            name)
        after = (row["xid"], row["trace_id"]) if row else ("0", uuid.UUID(int=0))
        out = []
        for r in await self.pool.fetch(_FEED, after[0], after[1], limit):
            d = dict(r)
            d["position"] = (d.pop("xid"), str(d["id"]))
            d["id"], d["key_id"] = str(d["id"]), (str(d["key_id"]) if d["key_id"] else None)
            out.append(FedTrace.model_validate(d))
        return out

    async def save_checkpoint(self, name: str, position: tuple[str, str]) -> None:
        await self.pool.execute(
            "INSERT INTO trace_feed_checkpoints (name, xid, trace_id) "
            "VALUES ($1, $2::text::xid8, $3::uuid) ON CONFLICT (name) DO UPDATE "
            "SET xid = excluded.xid, trace_id = excluded.trace_id, updated_at = now()",
            name, position[0], position[1])

    async def scored(self, trace_ids: list[str]) -> set[tuple[str, str]]:
        rows = await self.pool.fetch(
            "SELECT trace_id, actor FROM trace_scores WHERE source = 'evaluator' "
            "AND trace_id = ANY($1::uuid[])", trace_ids)
        return {(r["actor"].removeprefix("evaluator:"), str(r["trace_id"])) for r in rows}
