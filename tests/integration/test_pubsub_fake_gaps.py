"""What Google's Pub/Sub fake (pstest from Debian's golang-google-cloud-dev 0.56) does and
does not do, measured with the real client. Each test asserts what our code relies on and
probes one Pub/Sub feature; when the fake lacks the feature the test is skipped with the
exact missing behaviour, so a newer fake that has it makes the test run for real.

Observed with this fake (and why our code does not depend on any of it):

* **No dead-lettering.** ``dead_letter_policy`` is accepted and echoed back, but a message
  nacked more than ``max_delivery_attempts`` times is redelivered forever and never reaches
  the dead-letter topic; ``delivery_attempt`` is never set (always ``None``). Handlers nack
  poison messages either way; on GCP the policy moves them after 5 attempts.
* **No ordered delivery.** ``enable_message_ordering`` is accepted, but unacked messages
  live in a Go map, so delivery order is random even for one ordering key. Consumers are
  idempotent and order-free (DESIGN.md); nothing may rely on order.
* **No filters.** ``filter`` is accepted and ignored: every message is delivered. The
  topology routes by topic (``TOPICS``), never by filter.
* **No push delivery.** ``push_config`` is stored but the fake never POSTs. Locally and in
  tests, handlers run from pull (``PubSubPullConsumer``); the push endpoint is tested by
  calling it as Pub/Sub would (test_pubsub_push.py).
* ``ack_deadline_seconds`` must be 10..600 (0 is refused with "bad ack_deadline_seconds").
* RPCs it does not implement (e.g. ``ModifyPushConfig``, snapshots) crash the fake's
  process; ``ensure_topology`` uses ``UpdateSubscription`` instead.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from harness.bus.pubsub import PubSubBus, PubSubPullConsumer, ensure_topology
from harness.events import EventMetadata, StoredEvent
from tests.support.pubsub_fake import PROJECT, PubSubFake, use_fake

FAKE = "pstest (golang-google-cloud-dev 0.56)"


@pytest.fixture
def prefix():
    return f"g{uuid.uuid4().hex[:8]}-"


def event(i: int, stream: str = "run-1", type_: str = "RunRequested") -> StoredEvent:
    return StoredEvent(global_position=i, event_id=uuid.uuid4(), stream_id=stream,
                       stream_version=i, type=type_, schema_version=1, data={"i": i},
                       metadata=EventMetadata(), recorded_at=datetime.now(UTC))


async def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return predicate()


def pull_for(path: str, seconds: float) -> list:
    sub = pubsub_v1.SubscriberClient()
    got = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            resp = sub.pull(request={"subscription": path, "max_messages": 100}, timeout=5)
            if resp.received_messages:
                sub.acknowledge(request={"subscription": path, "ack_ids": [
                    m.ack_id for m in resp.received_messages]})
                got += [m.message for m in resp.received_messages]
    finally:
        sub.close()
    return got


def sub_path(name: str) -> str:
    return f"projects/{PROJECT}/subscriptions/{name}"


async def test_dead_letter_after_max_delivery_attempts(emulator, prefix):
    ensure_topology(PROJECT, prefix, max_delivery_attempts=5)
    bus = PubSubBus(PROJECT, prefix=prefix)
    poison = event(1)

    async def always_fails(ev: StoredEvent) -> None:
        raise RuntimeError("cannot handle this one")

    consumer = PubSubPullConsumer(f"{prefix}runs-runner", always_fails, project=PROJECT)
    await consumer.start()
    try:
        await bus.publish(poison)
        await wait_for(lambda: consumer.stats.received >= 12, timeout=30)
    finally:
        await consumer.stop()
        await bus.close()
    # our side: every delivery was nacked, so Pub/Sub is free to redeliver / dead-letter
    assert consumer.stats.received >= 6
    assert consumer.stats.acked == 0 and consumer.stats.nacked == consumer.stats.received
    dead = await asyncio.to_thread(pull_for, sub_path(f"{prefix}runs-dead-letter"), 1.5)
    attempts = consumer.stats.delivery_attempts
    if not dead:
        pytest.skip(
            f"{FAKE} does not implement dead-lettering: a message nacked "
            f"{consumer.stats.received} times under dead_letter_policy(max_delivery_attempts=5)"
            f" was redelivered every time, never forwarded to the dead-letter topic, and "
            f"delivery_attempt was {sorted(set(map(str, attempts)))} (never set)")
    assert len(dead) == 1 and dead[0].attributes["event_id"] == str(poison.event_id)
    assert consumer.stats.received <= 5
    assert [a for a in attempts if a is not None] == list(range(1, len(attempts) + 1))


async def test_ordered_delivery_for_one_ordering_key(emulator, prefix):
    ensure_topology(PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix)
    events = [event(i) for i in range(1, 61)]  # one stream = one ordering key
    seen: list[int] = []

    async def record(ev: StoredEvent) -> None:
        seen.append(ev.global_position)

    try:
        for ev in events:  # published in order: each accepted before the next
            await bus.publish(ev)
        consumer = PubSubPullConsumer(f"{prefix}runs-runner", record, project=PROJECT,
                                      max_messages=1)
        await consumer.start()
        await wait_for(lambda: len(set(seen)) >= len(events))
        await consumer.stop()
    finally:
        await bus.close()
    expected = [e.global_position for e in events]
    assert sorted(set(seen)) == expected  # every event arrived (order-free consumers are fine)
    if seen != expected:
        inversions = sum(1 for a, b in zip(seen, seen[1:], strict=False) if b < a)
        pytest.skip(
            f"{FAKE} does not deliver in ordering-key order: {len(events)} messages "
            f"published in order with ordering key 'run-1' on a subscription with "
            f"enable_message_ordering=True arrived with {inversions} inversions "
            f"(first ten: {seen[:10]}); consumers must not rely on order")


async def test_subscription_filter(emulator, prefix):
    ensure_topology(PROJECT, prefix)
    sub = pubsub_v1.SubscriberClient()
    path = sub_path(f"{prefix}runs-filtered")
    sub.create_subscription(request={
        "name": path, "topic": f"projects/{PROJECT}/topics/{prefix}runs",
        "ack_deadline_seconds": 10, "filter": 'attributes.type = "RunRequested"'})
    assert sub.get_subscription(request={"subscription": path}).filter == \
        'attributes.type = "RunRequested"'
    sub.close()
    bus = PubSubBus(PROJECT, prefix=prefix)
    try:
        await bus.publish(event(1, type_="RunRequested"))
        await bus.publish(event(2, type_="RunCancelled"))
    finally:
        await bus.close()
    got = await asyncio.to_thread(pull_for, path, 1.5)
    types = sorted(m.attributes["type"] for m in got)
    assert "RunRequested" in types
    if "RunCancelled" in types:
        pytest.skip(f"{FAKE} ignores subscription filters: filter "
                    f"'attributes.type = \"RunRequested\"' still delivered {types}")
    assert types == ["RunRequested"]


async def test_push_delivery(emulator, prefix):
    posts: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            posts.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        report = ensure_topology(PROJECT, prefix, {"runner": url})
        assert sub_path(f"{prefix}runs-runner") in report["created"]
        bus = PubSubBus(PROJECT, prefix=prefix)
        try:
            await bus.publish(event(1))
        finally:
            await bus.close()
        await wait_for(lambda: bool(posts), timeout=3)
    finally:
        httpd.shutdown()
        httpd.server_close()
    if not posts:
        pytest.skip(f"{FAKE} never pushes: a push subscription to {url}/pubsub/push got no "
                    "request in 3 s (push_config is stored, not used); handlers run from "
                    "PubSubPullConsumer locally, the endpoint is tested directly")
    assert len(posts) == 1


def test_fake_requires_ack_deadline(emulator, prefix):
    pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    try:
        topic = f"projects/{PROJECT}/topics/{prefix}t"
        pub.create_topic(request={"name": topic})
        with pytest.raises(gexc.GoogleAPICallError, match="bad ack_deadline_seconds: 0"):
            sub.create_subscription(request={"name": sub_path(f"{prefix}s"), "topic": topic},
                                    retry=None, timeout=5)
    finally:
        sub.close()
        pub.stop()


def test_unimplemented_rpc_kills_the_fake(monkeypatch, prefix):
    """Why ensure_topology updates push configs with UpdateSubscription, not
    ModifyPushConfig: the fake does not implement the latter and its process dies."""
    with PubSubFake() as fake:
        use_fake(monkeypatch, fake)
        pub, sub = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        try:
            topic = f"projects/{PROJECT}/topics/{prefix}t"
            pub.create_topic(request={"name": topic})
            path = sub_path(f"{prefix}s")
            sub.create_subscription(request={"name": path, "topic": topic,
                                             "ack_deadline_seconds": 10})
            with pytest.raises(gexc.GoogleAPICallError):
                sub.modify_push_config(request={"subscription": path,
                                                "push_config": {"push_endpoint": "http://x"}},
                                       retry=None, timeout=5)
            time.sleep(0.3)
            assert not fake.alive
        finally:
            sub.close()
            pub.stop()
