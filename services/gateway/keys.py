"""Gateway keys: random secrets shown once, stored as SHA-256 hashes, with scopes,
a requests-per-minute limit, budgets and a PII policy."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from harness.apikeys import KEYS_CHANNEL, hash_key

POLICIES = ("off", "mask", "block")


@dataclass(frozen=True)
class GatewayKey:
    id: uuid.UUID
    name: str
    applications: list[str] | None  # application names this key may call
    models: list[str] | None        # model ids and aliases this key may call
    rpm: int | None
    budget_day_usd: float | None
    budget_month_usd: float | None
    pii_policy: str

    @property
    def has_budget(self) -> bool:
        return self.budget_day_usd is not None or self.budget_month_usd is not None

    @property
    def unscoped(self) -> bool:
        return self.applications is None and self.models is None

    def allows_application(self, name: str) -> bool:
        """A key with no scope allows everything; once either scope is set, the other
        one allows only what it lists (none when unset)."""
        return self.unscoped or name in (self.applications or ())

    def allows_model(self, model: str) -> bool:
        return self.unscoped or model in (self.models or ())


def _key(row) -> GatewayKey:
    def num(v):
        return None if v is None else float(v)

    return GatewayKey(row["id"], row["name"], row["applications"], row["models"], row["rpm"],
                      num(row["budget_day_usd"]), num(row["budget_month_usd"]),
                      row["pii_policy"])


async def create_key(conn: asyncpg.Pool | asyncpg.Connection, name: str, *,
                     applications: list[str] | None = None, models: list[str] | None = None,
                     rpm: int | None = None, budget_day_usd: float | None = None,
                     budget_month_usd: float | None = None,
                     pii_policy: str = "mask") -> tuple[str, GatewayKey]:
    """Make a key; returns the secret (shown once) and what it allows."""
    if pii_policy not in POLICIES:
        raise ValueError(f"pii_policy must be one of {', '.join(POLICIES)}")
    if not name.strip():
        raise ValueError("name must not be empty")
    secret = "hgw_" + secrets.token_urlsafe(32)
    row = await conn.fetchrow(
        """INSERT INTO gateway_keys (id, name, key_hash, prefix, applications, models, rpm,
                                     budget_day_usd, budget_month_usd, pii_policy)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
        uuid.uuid4(), name, hash_key(secret), secret[:8], applications, models, rpm,
        budget_day_usd, budget_month_usd, pii_policy)
    return secret, _key(row)


async def _revoke_where(conn, where: str, *args) -> list[dict]:
    """Revoke the active keys matching ``where`` and tell every gateway (NOTIFY)."""
    async def run(c) -> list[dict]:
        async with c.transaction():
            rows = await c.fetch(
                f"UPDATE gateway_keys SET revoked_at = now() WHERE revoked_at IS NULL "
                f"AND ({where}) RETURNING id, name, prefix, created_at, revoked_at", *args)
            if rows:
                await c.execute("SELECT pg_notify($1, 'gateway')", KEYS_CHANNEL)
        return [dict(r) for r in rows]

    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as c:
            return await run(c)
    return await run(conn)


async def revoke_key(conn, key_id: uuid.UUID) -> bool:
    return bool(await _revoke_where(conn, "id = $1", key_id))


async def revoke_matching(conn, ident: str) -> list[dict]:
    """Revoke by id, id prefix (8+ characters) or key prefix (``hgw_xxxx``)."""
    ident = ident.strip()
    if len(ident) < 8:
        raise ValueError("give a key id (or its first 8 characters) or its prefix (hgw_xxxx)")
    return await _revoke_where(conn, "id::text = lower($1) OR id::text LIKE lower($1) || '%' "
                                     "OR prefix = $1", ident)


async def list_keys(conn) -> list[dict]:
    rows = await conn.fetch("SELECT id, name, prefix, applications, models, created_at, "
                            "revoked_at FROM gateway_keys ORDER BY created_at, name")
    return [dict(r) for r in rows]


class KeyStore:
    """Lookups with a short per-process cache. A revocation anywhere empties every
    gateway's cache at once (``NOTIFY harness_keys``, :meth:`invalidate`); the TTL only
    bounds staleness should notifications stop (then :meth:`distrust` turns caching off).

    When an entry expires under load, one query refreshes it and the concurrent requests
    for the same key wait for that query instead of each taking a connection."""

    def __init__(self, pool: asyncpg.Pool, ttl_s: float = 5.0) -> None:
        self.pool = pool
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, GatewayKey | None]] = {}
        self._loading: dict[str, asyncio.Task] = {}
        self.generation = 0  # bumped by every invalidation

    def invalidate(self, _payload: str | None = None) -> None:
        """Forget every key: the next request of each reads the database again (a query
        in flight that started before this is not reused, nor cached)."""
        self.generation += 1
        self._cache.clear()
        self._loading.clear()

    def distrust(self) -> None:
        """Notifications are lost (LISTEN connection gone): stop caching."""
        self.ttl_s = 0.0
        self.invalidate()

    async def lookup(self, secret: str) -> GatewayKey | None:
        h = hash_key(secret)
        hit = self._cache.get(h)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        task = self._loading.get(h)
        if task is None:  # the query is a task of its own: a caller that goes away
            task = self._loading[h] = asyncio.create_task(self._load(h))  # cancels nobody
            task.add_done_callback(
                lambda t: self._loading.pop(h) if self._loading.get(h) is t else None)
        return await asyncio.shield(task)

    async def _load(self, h: str) -> GatewayKey | None:
        generation = self.generation
        row = await self.pool.fetchrow(
            "SELECT * FROM gateway_keys WHERE key_hash = $1 AND revoked_at IS NULL", h)
        key = _key(row) if row else None
        if generation != self.generation:  # invalidated meanwhile: answer, do not keep
            return key
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[h] = (time.monotonic(), key)
        return key

    async def hit_rate(self, key: GatewayKey) -> tuple[bool, float]:
        """Count one request in the key's current minute (atomic upsert in Postgres, so the
        limit holds across processes). Returns (allowed, seconds until the window ends)."""
        if key.rpm is None:
            return True, 0.0
        now = datetime.now(UTC)
        minute = now.replace(second=0, microsecond=0)
        n = await self.pool.fetchval(
            """INSERT INTO gateway_rate (key_id, minute, n) VALUES ($1, $2, 1)
               ON CONFLICT (key_id, minute) DO UPDATE SET n = gateway_rate.n + 1
               RETURNING n""", key.id, minute)
        retry_after = 60.0 - (now - minute).total_seconds()
        return n <= key.rpm, max(retry_after, 0.001)

    async def prune(self) -> None:
        await self.pool.execute(
            "DELETE FROM gateway_rate WHERE minute < now() - interval '5 minutes'")
