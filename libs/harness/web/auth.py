"""Who is calling, and may they? API keys with roles; open local mode on loopback."""

from __future__ import annotations

import time

from fastapi import Request

from harness import apikeys
from harness.apikeys import KeyOwner
from harness.web.problems import ProblemError

_CACHE_TTL = 5.0


class Authenticator:
    """Keys are required as soon as one was ever created: revoking the last one leaves the
    server closed (the revoked rows stay), it never turns open again.

    Without keys the registry runs open, which every entry point allows only on loopback
    or with ``--insecure`` (``harness.open_mode``); the actor is then taken from
    ``X-Actor`` (default ``local``). Key lookups are cached for a few seconds; a key
    created or revoked anywhere empties the cache at once (``NOTIFY harness_keys``).
    """

    def __init__(self, pool) -> None:
        self.pool = pool
        self.ttl_s = _CACHE_TTL
        self._closed = False
        self._checked_at = float("-inf")
        self._owners: dict[str, tuple[float, KeyOwner | None]] = {}
        self.generation = 0

    def invalidate(self, payload: str | None = None) -> None:
        if payload in (None, "api"):
            self.generation += 1
            self._owners.clear()
            self._checked_at = float("-inf")

    def distrust(self) -> None:
        """Notifications are lost: stop caching lookups."""
        self.ttl_s = 0.0
        self.invalidate()

    async def keys_required(self) -> bool:
        if self._closed:
            return True  # for good
        if time.monotonic() - self._checked_at > self.ttl_s:
            self._closed = await apikeys.keys_ever_created(self.pool)
            self._checked_at = time.monotonic()
        return self._closed

    async def _owner(self, key: str) -> KeyOwner | None:
        hit = self._owners.get(key)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        generation = self.generation
        owner = await apikeys.lookup(self.pool, key)
        if generation == self.generation:
            if len(self._owners) > 10_000:
                self._owners.clear()
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
    """A route dependency: the caller, who must hold ``role``; the app's runtime
    (``app.state.runtime``) carries the :class:`Authenticator` as ``auth``."""

    async def dependency(request: Request) -> KeyOwner:
        owner = await request.app.state.runtime.auth.identify(request)
        if not owner.allows(role):
            raise ProblemError(403, "forbidden", f"role {owner.role} may not do this; needs {role}")
        request.state.actor = owner.name
        return owner

    return dependency
