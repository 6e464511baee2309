"""What a worker service reads from the registry's REST API (``HARNESS_URL``): the base of
the runner's, scorer's and generator's remote adapters (their ``remote.py``)."""

from __future__ import annotations

from typing import Any

import httpx

from harness.registry_http import auth_headers

PAGE = 500  # items asked for per page of a list


class RegistryReader:
    """An HTTP client of the registry; ``client`` is what a service's ``/readyz`` checks."""

    def __init__(self, base_url: str, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None) -> None:
        self.client = client or httpx.AsyncClient(base_url=base_url,
                                                  headers=auth_headers(api_key), timeout=30)

    async def get_json(self, path: str, **params: Any) -> Any:
        r = await self.client.get(path, params=params)
        r.raise_for_status()
        return r.json()

    async def get_json_or_none(self, path: str) -> Any | None:
        """The answer, or None when the registry does not know the resource (404)."""
        r = await self.client.get(path)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    async def every_item(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list (``items``, ``total``; ``limit`` and ``offset``);
        ``params``: the list's other query parameters."""
        out: list[dict[str, Any]] = []
        while True:
            page = await self.get_json(path, **params, limit=PAGE, offset=len(out))
            out += page["items"]
            if len(out) >= page["total"] or not page["items"]:
                return out

    async def close(self) -> None:
        await self.client.aclose()
