"""The multi-process stack the end-to-end tests run against: registry and runner (plus the
workers a test module names) as separate processes over Google's Pub/Sub fake and a GCS
emulator, on the test's own database."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from contextlib import contextmanager

import pytest

from harness.devstack import service_env, start_services, start_worker
from tests.support.gcs_emulator import GcsEmulator
from tests.support.pubsub_fake import shared_fake
from tests.support.stub_llm import StubLLM


@contextmanager
def process_stack(db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch,
                  workers: tuple[str, ...] = (), extra_env: dict[str, str] | None = None):
    fake = shared_fake()
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", fake.host)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    logs = tmp_path / "logs"
    with GcsEmulator() as gcs, StubLLM() as stub:
        gcs.create_bucket("harness")
        env = service_env(database_url=db_url, pubsub_host=fake.host,
                          storage_host=gcs.endpoint, artifacts_uri="gs://harness/artifacts",
                          data_dir=tmp_path, project="harness-e2e",
                          prefix=f"e2e{uuid.uuid4().hex[:8]}-")
        env["HARNESS_PUBSUB_ACK_DEADLINE_S"] = "10"
        env["OPENAI_API_KEY"] = "sk-test"
        # the models' endpoint is server configuration (a run carries LLM options only)
        env["HARNESS_LLM_DEPLOYMENTS"] = json.dumps({"*": {"api_base": stub.base_url}})
        env.update(extra_env or {})
        registry, runner = start_services(env, log_dir=logs)
        started = {name: start_worker(name, env, registry, log_dir=logs) for name in workers}
        services = {"registry": registry, "runner": runner, **started, "env": env, "gcs": gcs,
                    "logs": logs, "stub": stub}
        try:
            yield services
        finally:  # a test may have replaced a process (a restart): stop the current ones
            for name in (*reversed(workers), "runner", "registry"):
                services[name].stop()


@contextmanager
def stack_stub(stack: dict, latency_s: float = 0.0):
    """The stack's loopback provider (every model's endpoint), reset, answering after
    ``latency_s``."""
    stub = stack["stub"]
    stub.reset()
    stub.latency_s = latency_s
    yield stub


def redeliver(stack: dict, event: dict) -> None:
    """Publish a stored event (as the registry's ``/events`` answers it) on its topics
    again, as Pub/Sub may redeliver it."""
    from harness.bus.pubsub import PubSubBus
    from harness.events import StoredEvent

    env = stack["env"]
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]

    async def publish():
        bus = PubSubBus(env["GOOGLE_CLOUD_PROJECT"], prefix=env["HARNESS_TOPIC_PREFIX"])
        try:
            await bus.publish(StoredEvent.model_validate(event))
        finally:
            await bus.close()

    asyncio.run(publish())


def log_count(service, marker: str) -> int:
    """How often the structlog event ``marker`` is in ``service``'s log so far."""
    return service.log_path.read_bytes().count(f'"{marker}"'.encode())


def wait_log(service, marker: str, *, more_than: int = 0, timeout: float = 60,
             what: str = "the log event") -> None:
    """Wait until ``service`` has logged ``marker`` more than ``more_than`` times."""
    deadline = time.monotonic() + timeout
    while log_count(service, marker) <= more_than:
        assert time.monotonic() < deadline, f"{what}: no {marker!r} within {timeout} s"
        time.sleep(0.1)
