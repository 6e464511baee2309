"""Remote adapter of the scorer's source, for the scorer as its own service: the run and
its results (with the scores already recorded) from the registry's REST API."""

from __future__ import annotations

import httpx

from harness.evaluation.models import CaseResult

from .ports import ScoringJob


class RegistryScoringSource:
    """Reads from the registry at ``HARNESS_URL``."""

    def __init__(self, base_url: str, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.AsyncClient(base_url=base_url, headers=headers,
                                                  timeout=30)

    async def job(self, run_id: str) -> ScoringJob | None:
        r = await self.client.get(f"/runs/{run_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return ScoringJob.from_run(r.json())

    async def results(self, run_id: str) -> list[CaseResult]:
        out: list[CaseResult] = []
        while True:
            r = await self.client.get(f"/runs/{run_id}/results",
                                      params={"limit": 500, "offset": len(out)})
            r.raise_for_status()
            page = r.json()
            out += [CaseResult.model_validate(item) for item in page["items"]]
            if len(out) >= page["total"] or not page["items"]:
                return out

    async def unscored_runs(self) -> list[str]:
        # a service scorer does not resume on start: Pub/Sub redelivers unacked messages
        return []

    async def close(self) -> None:
        await self.client.aclose()
