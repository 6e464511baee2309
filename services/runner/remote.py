"""Remote adapter of the runner's progress port, for the runner as its own service: what
is already recorded is read from the registry's REST API (results go out on the bus, see
``services.worker_results.BusResultSink``)."""

from __future__ import annotations

from services.worker_reads import RegistryReader


class RegistryRunProgress(RegistryReader):
    """Reads what is already recorded from the registry (``HARNESS_URL``)."""

    async def recorded_keys(self, run_id: str, shard: int | None = None
                            ) -> set[tuple[str, str, int]]:
        params = {} if shard is None else {"shard": shard}
        data = await self.get_json(f"/runs/{run_id}/recorded", **params)
        return {(c, t, int(r)) for c, t, r in data["recorded"]}

    async def results(self, run_id: str) -> list[dict]:
        return await self.every_item(f"/runs/{run_id}/results")

    async def status(self, run_id: str) -> str | None:
        run = await self.get_json_or_none(f"/runs/{run_id}")
        return None if run is None else run["status"]

    async def unfinished_runs(self) -> list[str]:
        # a service runner does not resume on start: Pub/Sub redelivers unacked runs
        return []
