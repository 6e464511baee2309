"""The gateway's reads of the shared database, so its routes hold no SQL: application
names (the registry's read model) and gateway keys (the gateway's own table)."""

from __future__ import annotations

import uuid

import asyncpg


async def application_names(pool: asyncpg.Pool) -> list[str]:
    return [r["name"] for r in await pool.fetch("SELECT name FROM applications ORDER BY name")]


async def application_exists(pool: asyncpg.Pool, name: str) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM applications WHERE name = $1", name))


async def gateway_key_exists(pool: asyncpg.Pool, key_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM gateway_keys WHERE id = $1", key_id))
