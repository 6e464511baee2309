"""The generator's progress port over the registry's REST API (``HARNESS_URL``), for the
generator as its own service."""

from __future__ import annotations

import httpx

from .ports import Recorded


class RegistryGenerationProgress:
    def __init__(self, base_url: str, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = client or httpx.AsyncClient(base_url=base_url, headers=headers,
                                                  timeout=30)

    async def recorded(self, generation_id: str) -> Recorded | None:
        r = await self.client.get(f"/generations/{generation_id}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        g = r.json()
        return Recorded(status=g["status"], batches=frozenset(g["batches"]),
                        generated=g["generated"], failed=g["failed"])

    async def unfinished(self) -> list[str]:
        return []  # a service does not resume on start: Pub/Sub redelivers unacked requests

    async def close(self) -> None:
        await self.client.aclose()
