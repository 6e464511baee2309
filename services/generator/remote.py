"""The generator's progress port over the registry's REST API (``HARNESS_URL``), for the
generator as its own service."""

from __future__ import annotations

from services.worker_reads import RegistryReader

from .ports import Recorded


class RegistryGenerationProgress(RegistryReader):
    async def recorded(self, generation_id: str) -> Recorded | None:
        g = await self.get_json_or_none(f"/generations/{generation_id}")
        if g is None:
            return None
        return Recorded(status=g["status"], batches=frozenset(g["batches"]),
                        generated=g["generated"], failed=g["failed"])

    async def unfinished(self) -> list[str]:
        return []  # a service does not resume on start: Pub/Sub redelivers unacked requests
