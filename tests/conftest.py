"""Shared fixtures: a real PostgreSQL, a fresh database per test, the registry app."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _harness_home(tmp_path_factory):
    """Tests never touch the user's harness folder (~/.local/share/harness): HARNESS_HOME
    is a temporary one unless the caller chose one (CLI subprocesses inherit it)."""
    if "HARNESS_HOME" not in os.environ:
        os.environ["HARNESS_HOME"] = str(tmp_path_factory.mktemp("harness-home"))
    from harness.config import get_settings

    get_settings.cache_clear()
    yield


@pytest.fixture
def setenv(monkeypatch):
    """``setenv(name, value)``: an environment variable for this test only, with harness's
    settings (``harness.config.get_settings``, cached) read again now and after the test."""
    from harness.config import get_settings

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_
    get_settings.cache_clear()


def _admin_url() -> str:
    url = os.environ.get("HARNESS_TEST_DATABASE_URL")
    if url:
        return url
    from harness.db import embedded_database_url

    return embedded_database_url(ROOT / ".harness" / "test-pgdata")


def _with_db(url: str, dbname: str) -> str:
    """Same server, another database (works for TCP and socket URLs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    return _admin_url()


@pytest.fixture(scope="session")
async def template_db(pg_admin_url):
    """A migrated template database, cloned for every test."""
    from services.registry.runtime import migrate_all

    name = f"harness_tpl_{os.getpid()}"
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    from harness.db import create_pool

    pool = await create_pool(_with_db(pg_admin_url, name), min_size=1, max_size=2)
    await migrate_all(pool)
    await pool.close()
    yield name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def db_url(pg_admin_url, template_db):
    name = f"harness_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_url)
    for _ in range(50):
        try:
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
            break
        except asyncpg.ObjectInUseError:  # template briefly busy
            await asyncio.sleep(0.1)
    try:
        yield _with_db(pg_admin_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pool(db_url):
    from harness.db import create_pool

    p = await create_pool(db_url, min_size=1, max_size=10)
    yield p
    await p.close()


@pytest.fixture
def artifacts(tmp_path):
    from harness.artifacts import FolderArtifactStore

    return FolderArtifactStore(tmp_path / "artifacts")


@pytest.fixture
async def runtime(db_url, artifacts):
    from services.registry.runtime import Runtime

    rt = await Runtime.start(db_url, pool_max=20, artifacts=artifacts)
    rt.start_background()
    yield rt
    await rt.stop()


@pytest.fixture
async def stack(db_url, artifacts):
    """Registry + runner in one process (the local default), with a test LLM client."""
    from harness.llm import LLMClient
    from services.bootstrap import LocalStack

    st = await LocalStack.start(db_url, artifacts=artifacts, pool_max=20,
                                llm=LLMClient(backoff_base_s=0.01, backoff_max_s=0.05))
    yield st
    await st.stop()


@pytest.fixture
async def stack_client(stack):
    from services.registry.app import create_app

    app = create_app(runtime=stack.runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        yield c


@pytest.fixture
async def client(runtime):
    from services.registry.app import create_app

    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as c:
        yield c


@pytest.fixture
async def live_url(runtime):
    """The registry served by a real uvicorn on loopback, in the test's event loop."""
    async for url in _serve(runtime):
        yield url


@pytest.fixture
async def live_stack_url(stack):
    """Registry + runner served by a real uvicorn on loopback, in the test's event loop."""
    async for url in _serve(stack.runtime):
        yield url


async def _serve(runtime):
    from services.registry.app import create_app
    from tests.support.serving import serve_app

    async with serve_app(create_app(runtime=runtime)) as url:
        yield url


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when a test left a process running (with the ports it listens on):
    a leftover server collides with the next run on the same machine. The leftovers are
    killed so the machine is clean either way."""
    from tests.support import processes

    processes.stop_session_services()
    left = processes.leaks()
    if not left:
        return
    processes.kill_all(left)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["processes left running by the tests (now killed):",
             *(f"  {p}" for p in left)]
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line("\n".join(lines), red=True)
    else:
        print("\n".join(lines))
    if session.exitstatus == 0:
        session.exitstatus = 1
