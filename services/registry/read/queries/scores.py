"""Scores as the read side shows them: joined to their results (the scorer's and people's),
and summarized per metric over a run."""

from __future__ import annotations

import asyncpg

from harness.evaluation.analysis import MetricStats, metric_stats
from harness.evaluation.models import MetricResult

# A result row (alias ``r`` of run_results) with its ``result_id`` and its scores as
# ``{metric: score}`` under "scores": the scorer's, and people's as ``human:<name>`` (the
# mean of each person's latest score of that name, with their ``count``); a score
# recorded in the result itself (e.g. an import) is never trusted.
RESULT_WITH_SCORES = (
    "r.result || jsonb_build_object('result_id', r.result_id, 'scores', "
    "coalesce((SELECT jsonb_object_agg(s.metric, s.score) FROM run_scores s "
    "WHERE s.run_id = r.run_id AND s.case_id = r.case_id AND s.target_id = r.target_id "
    "AND s.repeat = r.repeat), '{}'::jsonb) || "
    "coalesce((SELECT jsonb_object_agg('human:' || h.name, jsonb_build_object("
    "'status', 'ok', 'value', h.value, 'source', 'human', 'count', h.n)) FROM ("
    "SELECT f.name, avg(f.value) AS value, count(*) AS n FROM result_feedback f "
    "WHERE f.run_id = r.run_id AND f.case_id = r.case_id AND f.target_id = r.target_id "
    "AND f.repeat = r.repeat AND f.source = 'human' GROUP BY f.name) h), '{}'::jsonb))"
)


async def metric_totals(pool: asyncpg.Pool, run_id: str) -> dict[str, MetricStats]:
    """Each metric's distribution over every result of the run recorded so far."""
    rows = await pool.fetch("SELECT metric, status, value FROM run_scores WHERE run_id = $1",
                            run_id)
    by_metric: dict[str, list[MetricResult]] = {}
    for r in rows:
        by_metric.setdefault(r["metric"], []).append(
            MetricResult(status=r["status"], value=r["value"]))
    return {m: metric_stats(by_metric[m]) for m in sorted(by_metric)}
