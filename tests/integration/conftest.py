"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.gateway import serve_gateway, stub_settings
from tests.support.pubsub_fake import PubSubFakeUnavailable, use_fake
from tests.support.stub_llm import StubLLM


@pytest.fixture(scope="module")
def stub_server() -> Iterator[StubLLM]:
    """One loopback stub LLM server per test module (a module overrides this fixture to
    start it differently, e.g. with other models)."""
    with StubLLM() as server:
        yield server


@pytest.fixture
def stub(stub_server: StubLLM) -> StubLLM:
    """The module's stub LLM server as new for this test: no scripts, replies, failures,
    recorded requests or latency. (A module that needs another stub defines its own.)"""
    stub_server.reset()
    stub_server.latency_s = 0.0
    return stub_server


@pytest.fixture
async def gw(runtime, stub):
    """The gateway (with the registry) on loopback, every model answered by ``stub``
    (:func:`tests.support.gateway.stub_settings`). A module needing other settings defines
    its own."""
    async with serve_gateway(runtime, stub_settings(stub)) as served:
        yield served


@pytest.fixture
async def reg(live_stack_url, monkeypatch):
    """An HTTP client (actor ``seed``) of the local stack's registry the studio's pages are
    pointed at (``HARNESS_URL``). A module needing another registry defines its own."""
    from tests.support.studio import point_studio_at  # Streamlit: only for the studio's tests

    point_studio_at(monkeypatch, live_stack_url)
    async with httpx.AsyncClient(base_url=live_stack_url, timeout=30,
                                 headers={"X-Actor": "seed"}) as c:
        yield c


@pytest.fixture
def emulator(monkeypatch):
    """Google's Pub/Sub fake for this test (its environment set); the test fails, saying
    why, when the fake cannot start."""
    try:
        return use_fake(monkeypatch)
    except PubSubFakeUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def prefix():
    """Each test gets its own topic names on the shared fake."""
    return f"t{uuid.uuid4().hex[:8]}-"
