"""Remote adapter of the scorer's source, for the scorer as its own service: the run and
its results (with the scores already recorded) from the registry's REST API."""

from __future__ import annotations

from harness.evaluation.models import CaseResult
from services.worker_reads import RegistryReader

from .ports import ScoringJob


class RegistryScoringSource(RegistryReader):
    """Reads from the registry at ``HARNESS_URL``."""

    async def job(self, run_id: str) -> ScoringJob | None:
        run = await self.get_json_or_none(f"/runs/{run_id}")
        return None if run is None else ScoringJob.from_run(run)

    async def results(self, run_id: str) -> list[CaseResult]:
        return [CaseResult.model_validate(item)
                for item in await self.every_item(f"/runs/{run_id}/results")]

    async def unscored_runs(self) -> list[str]:
        # a service scorer does not resume on start: Pub/Sub redelivers unacked messages
        return []
