"""Who is calling, and may they? API keys with roles; open local mode on loopback."""

from __future__ import annotations

import time

from fastapi import Request

from harness import apikeys
from harness.apikeys import KeyOwner

from .problems import ProblemError

_CACHE_TTL = 5.0


class Authenticator:
    """Keys are required as soon as one active key exists (checked every few seconds).

    Without keys the registry runs open, which the CLI only allows on loopback or with
    ``--insecure``; the actor is then taken from ``X-Actor`` (default ``local``).
    """

    def __init__(self, pool) -> None:
        self.pool = pool
        self._keys_exist: tuple[float, bool] = (0.0, False)
        self._owners: dict[str, tuple[float, KeyOwner | None]] = {}

    async def keys_required(self) -> bool:
        at, value = self._keys_exist
        if time.monotonic() - at > _CACHE_TTL:
            value = await apikeys.active_key_count(self.pool) > 0
            self._keys_exist = (time.monotonic(), value)
        return value

    async def _owner(self, key: str) -> KeyOwner | None:
        hit = self._owners.get(key)
        if hit and time.monotonic() - hit[0] < _CACHE_TTL:
            return hit[1]
        owner = await apikeys.lookup(self.pool, key)
        self._owners[key] = (time.monotonic(), owner)
        return owner

    async def identify(self, request: Request) -> KeyOwner:
        header = request.headers.get("authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else None
        key = key or request.headers.get("x-api-key")
        if not await self.keys_required():
            return KeyOwner(request.headers.get("x-actor") or "local", "admin")
        if not key:
            raise ProblemError(401, "unauthorized", "an API key is required "
                               "(Authorization: Bearer <key> or X-API-Key)",
                               headers={"WWW-Authenticate": "Bearer"})
        owner = await self._owner(key)
        if owner is None:
            raise ProblemError(401, "unauthorized", "unknown or revoked API key",
                               headers={"WWW-Authenticate": "Bearer"})
        return owner


def require(role: str):
    async def dependency(request: Request) -> KeyOwner:
        owner = await request.app.state.runtime.auth.identify(request)
        if not owner.allows(role):
            raise ProblemError(403, "forbidden", f"role {owner.role} may not do this; needs {role}")
        request.state.actor = owner.name
        return owner

    return dependency
