"""API keys: random secrets shown once, stored as SHA-256 hashes with a role."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

ROLES = ("viewer", "editor", "approver", "admin")
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
        "INSERT INTO api_keys (id, name, role, key_hash, prefix) VALUES ($1, $2, $3, $4, $5)",
        uuid.uuid4(), name, role, hash_key(key), key[:7],
    )
    return key


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
        "INSERT INTO api_keys (id, name, role, key_hash, prefix) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (key_hash) DO NOTHING RETURNING 1",
        uuid.uuid4(), name, role, key_sha256, "hk_")
    return bool(added)
