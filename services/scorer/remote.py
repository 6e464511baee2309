"""Remote adapter of the scorer's source, for the scorer as its own service: the run and
its results (with the scores already recorded), and for online evaluation the evaluator
and the sampled trace (with its scores), from the registry's REST API."""

from __future__ import annotations

import time

from harness.evaluation.models import CaseResult
from harness.evaluation.online import evaluator_actor
from services.worker_reads import RegistryReader

from .ports import FedTrace, OnlineEvaluator, ScoringJob

EVALUATOR_TTL_S = 5.0  # an evaluator read is reused this long (a pause applies within it)


def scored_ids(actors: set[str]) -> set[str]:
    """The evaluator ids of scores by ``evaluator:<id>``."""
    prefix = evaluator_actor("")
    return {a.removeprefix(prefix) for a in actors if a.startswith(prefix)}


class RegistryScoringSource(RegistryReader):
    """Reads from the registry at ``HARNESS_URL``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._evaluators: dict[str, tuple[float, OnlineEvaluator | None]] = {}

    async def job(self, run_id: str) -> ScoringJob | None:
        run = await self.get_json_or_none(f"/runs/{run_id}")
        return None if run is None else ScoringJob.from_run(run)

    async def results(self, run_id: str, shard: int | None = None) -> list[CaseResult]:
        where = {} if shard is None else {"shard": shard}
        return [CaseResult.model_validate(item)
                for item in await self.every_item(f"/runs/{run_id}/results", **where)]

    async def evaluator(self, evaluator_id: str) -> OnlineEvaluator | None:
        cached = self._evaluators.get(evaluator_id)
        if cached is not None and time.monotonic() - cached[0] < EVALUATOR_TTL_S:
            return cached[1]
        found = await self.get_json_or_none(f"/evaluators/{evaluator_id}")
        evaluator = (OnlineEvaluator.model_validate(found)
                     if found is not None and found["status"] == "active" else None)
        self._evaluators[evaluator_id] = (time.monotonic(), evaluator)
        return evaluator

    async def trace(self, trace_id: str) -> tuple[FedTrace, set[str]] | None:
        found = await self.get_json_or_none(f"/traces/{trace_id}")
        if found is None:
            return None
        scored = {s["actor"] for s in found.get("scores") or [] if s["source"] == "evaluator"}
        trace = FedTrace.model_validate(
            {**found, "key_id": str(found["key_id"]) if found.get("key_id") else None})
        return trace, scored_ids(scored)

    async def unscored_runs(self) -> list[str]:
        # a service scorer does not resume on start: Pub/Sub redelivers unacked messages
        return []
