"""A scratch PostgreSQL database for one benchmark run.

Server: HARNESS_BENCH_DATABASE_URL, else HARNESS_TEST_DATABASE_URL, else the embedded one.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parents[1]


def admin_url() -> str:
    from harness.db import embedded_database_url

    return (os.environ.get("HARNESS_BENCH_DATABASE_URL")
            or os.environ.get("HARNESS_TEST_DATABASE_URL")
            or embedded_database_url(ROOT / ".harness" / "bench-pgdata"))


def with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


@asynccontextmanager
async def scratch_database(prefix: str) -> AsyncIterator[str]:
    """Create a database, yield its URL, drop it afterwards (whatever happened)."""
    admin = admin_url()
    name = f"{prefix}_{os.getpid()}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_db(admin, name)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
