"""API keys: random secrets shown once, stored as SHA-256 hashes with a role.

Revoking a key keeps its row (``revoked_at``): the rows are also the persisted fact that
this server has had keys, so it never falls back to open mode (:func:`keys_ever_created`).
Every change sends ``NOTIFY harness_keys`` so that running servers drop their caches at
once instead of after their TTL.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

# ``metrics`` may only read ``/metrics`` (a Prometheus scraper's key); each role allows
# what the roles before it allow.
ROLES = ("metrics", "viewer", "editor", "approver", "admin")
KEYS_CHANNEL = "harness_keys"  # NOTIFY payload: "api" or "gateway" (which keys changed)
_RANK = {r: i for i, r in enumerate(ROLES)}


@dataclass(frozen=True)
class KeyOwner:
    name: str
    role: str

    def allows(self, needed: str) -> bool:
        return _RANK[self.role] >= _RANK[needed]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(conn: asyncpg.Connection | asyncpg.Pool, name: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise ValueError("name must not be empty")
    key = "hk_" + secrets.token_urlsafe(32)
    await conn.execute(
        "WITH added AS (INSERT INTO api_keys (id, name, role, key_hash, prefix) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING 1) "
        "SELECT pg_notify($6, 'api') FROM added",
        uuid.uuid4(), name, role, hash_key(key), key[:7], KEYS_CHANNEL,
    )
    return key


async def keys_ever_created(conn: asyncpg.Connection | asyncpg.Pool) -> bool:
    """True once any key was created, revoked or not: such a server requires keys for
    good (revoking the last key leaves it closed, never open)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM api_keys)"))


async def list_keys(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict]:
    rows = await conn.fetch("SELECT id, name, role, prefix, created_at, revoked_at "
                            "FROM api_keys ORDER BY created_at, name")
    return [dict(r) for r in rows]


async def revoke_key(conn: asyncpg.Connection | asyncpg.Pool, ident: str) -> list[dict]:
    """Revoke the active keys whose id, id prefix (8+ characters) or key prefix
    (``hk_xxxx``) is ``ident``; returns them (none: nothing matched). Running servers are
    told at once (NOTIFY)."""
    ident = ident.strip()
    if len(ident) < 7:
        raise ValueError("give a key id (or its first 8 characters) or its prefix (hk_xxxx)")
    async with _transaction(conn) as c:
        rows = await c.fetch(
            "UPDATE api_keys SET revoked_at = now() WHERE revoked_at IS NULL "
            "AND (id::text = lower($1) OR (length($1) >= 8 AND id::text LIKE lower($1) || '%') "
            "OR prefix = $1) RETURNING id, name, role, prefix, created_at, revoked_at", ident)
        if rows:
            await c.execute("SELECT pg_notify($1, 'api')", KEYS_CHANNEL)
    return [dict(r) for r in rows]


@asynccontextmanager
async def _transaction(conn: asyncpg.Connection | asyncpg.Pool):
    if isinstance(conn, asyncpg.Pool):
        async with conn.acquire() as c, c.transaction():
            yield c
    else:
        async with conn.transaction():
            yield conn


async def lookup(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> KeyOwner | None:
    row = await conn.fetchrow(
        "SELECT name, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key)
    )
    return KeyOwner(row["name"], row["role"]) if row else None


async def active_key_count(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"))


async def ensure_key_hash(conn: asyncpg.Connection | asyncpg.Pool, name: str, role: str,
                          key_sha256: str) -> bool:
    """Make sure a key with this hash exists (Terraform hands the registry only the hash of
    the services' key, ``HARNESS_BOOTSTRAP_KEY_SHA256``). Returns True when it was added."""
    key_sha256 = key_sha256.strip().lower()
    if len(key_sha256) != 64 or any(c not in "0123456789abcdef" for c in key_sha256):
        raise ValueError("the bootstrap key hash must be a hex SHA-256 (64 characters)")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    added = await conn.fetchval(
        "WITH added AS (INSERT INTO api_keys (id, name, role, key_hash, prefix) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_hash) DO NOTHING RETURNING 1) "
        "SELECT pg_notify($6, 'api') IS NOT NULL FROM added",
        uuid.uuid4(), name, role, key_sha256, "hk_", KEYS_CHANNEL)
    return bool(added)
