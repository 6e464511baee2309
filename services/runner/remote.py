"""Remote adapter of the runner's progress port, for the runner as its own service: what
is already recorded is read from the registry's REST API (results go out on the bus, see
``services.worker_results.BusResultSink``)."""

from __future__ import annotations

import httpx


class RegistryRunProgress:
    """Reads what is already recorded from the registry (``HARNESS_URL``)."""

    def __init__(self, base_url: str, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.AsyncClient(base_url=base_url, headers=headers,
                                                  timeout=30)

    async def _get(self, path: str, **params) -> dict:
        r = await self.client.get(path, params=params)
        r.raise_for_status()
        return r.json()

    async def recorded_keys(self, run_id: str) -> set[tuple[str, str, int]]:
        data = await self._get(f"/runs/{run_id}/recorded")
        return {(c, t, int(r)) for c, t, r in data["recorded"]}

    async def results(self, run_id: str) -> list[dict]:
        out: list[dict] = []
        while True:
            page = await self._get(f"/runs/{run_id}/results", limit=500, offset=len(out))
            out += page["items"]
            if len(out) >= page["total"] or not page["items"]:
                return out

    async def status(self, run_id: str) -> str | None:
        r = await self.client.get(f"/runs/{run_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()["status"]

    async def unfinished_runs(self) -> list[str]:
        # a service runner does not resume on start: Pub/Sub redelivers unacked runs
        return []

    async def close(self) -> None:
        await self.client.aclose()
