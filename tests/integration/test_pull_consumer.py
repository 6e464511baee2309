"""PubSubPullConsumer (asyncio streaming pull) against Google's Pub/Sub fake: concurrency
bound, one handler at a time per ordering key, leases longer than the ack deadline,
reconnecting after the server went away, and stopping on a permanent error.

Counts and order only; sleeps inside handlers stand for slow work, nothing asserts a time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime

from harness.bus.pubsub import PubSubBus, PubSubPullConsumer, ensure_topology
from harness.events import EventMetadata, StoredEvent
from tests.support.pubsub_fake import PROJECT, PubSubFake, use_fake


def event(i: int, stream: str) -> StoredEvent:
    return StoredEvent(global_position=i, event_id=uuid.uuid4(), stream_id=stream,
                       stream_version=i, type="RunRequested", schema_version=1, data={"i": i},
                       metadata=EventMetadata(), recorded_at=datetime.now(UTC))


async def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_at_most_max_messages_at_once_and_one_per_ordering_key(emulator, prefix):
    ensure_topology(PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix)
    events = [event(i, f"run-{i % 3}") for i in range(1, 31)]  # 3 ordering keys
    running: Counter[str] = Counter()
    most_per_key: Counter[str] = Counter()
    most_at_once = 0
    done: list[uuid.UUID] = []

    async def slow(ev: StoredEvent) -> None:
        nonlocal most_at_once
        running[ev.stream_id] += 1
        most_per_key[ev.stream_id] = max(most_per_key[ev.stream_id], running[ev.stream_id])
        most_at_once = max(most_at_once, sum(running.values()))
        await asyncio.sleep(0.02)
        running[ev.stream_id] -= 1
        done.append(ev.event_id)

    consumer = PubSubPullConsumer(f"{prefix}runs-runner", slow, project=PROJECT,
                                  max_messages=2, streams=4)
    await consumer.start()
    try:
        await bus.publish_batch(events)
        await wait_for(lambda: len(done) >= len(events), what="every event")
    finally:
        await consumer.stop()
        await bus.close()
    assert sorted(done) == sorted(e.event_id for e in events)
    assert most_at_once <= 2
    assert set(most_per_key.values()) == {1}  # never two of one ordering key at once
    assert consumer.stats.acked == len(events) and consumer.stats.nacked == 0


async def test_lease_outlives_the_ack_deadline(emulator, prefix):
    """Ack deadline 10 s, one handler at a time, the first one takes longer than that:
    neither it nor the one waiting behind it is redelivered meanwhile."""
    ensure_topology(PROJECT, prefix, ack_deadline_seconds=10)
    bus = PubSubBus(PROJECT, prefix=prefix)
    first, second = event(1, "run-a"), event(2, "run-b")
    handled: list[uuid.UUID] = []

    async def handler(ev: StoredEvent) -> None:
        if ev.event_id == first.event_id:
            await asyncio.sleep(11)
        handled.append(ev.event_id)

    consumer = PubSubPullConsumer(f"{prefix}runs-runner", handler, project=PROJECT,
                                  max_messages=1, ack_deadline_seconds=10)
    await consumer.start()
    try:
        await bus.publish(first)
        await wait_for(lambda: consumer.stats.received >= 1, what="the first delivery")
        await bus.publish(second)
        await wait_for(lambda: len(handled) >= 2, timeout=60, what="both handled")
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
        await bus.close()
    assert sorted(handled) == sorted([first.event_id, second.event_id])
    assert consumer.stats.received == 2  # no redelivery while leased


async def test_streams_reconnect_after_pubsub_comes_back(monkeypatch, prefix):
    with PubSubFake() as fake:
        use_fake(monkeypatch, fake)
        ensure_topology(PROJECT, prefix)
        seen: list[uuid.UUID] = []

        async def handler(ev: StoredEvent) -> None:
            seen.append(ev.event_id)

        consumer = PubSubPullConsumer(f"{prefix}runs-runner", handler, project=PROJECT,
                                      streams=2)
        await consumer.start()
        bus = PubSubBus(PROJECT, prefix=prefix)
        try:
            before = event(1, "run-1")
            await bus.publish(before)
            await wait_for(lambda: before.event_id in seen, what="before the restart")
            fake.restart()  # all state lost: the topology is made again
            ensure_topology(PROJECT, prefix)
            after = event(2, "run-1")
            await bus.publish(after)
            await wait_for(lambda: after.event_id in seen, timeout=60,
                           what="after the restart")
            assert consumer.running
        finally:
            await consumer.stop()
            await bus.close()
    assert seen == [before.event_id, after.event_id]


async def test_missing_subscription_stops_the_consumer(emulator, prefix):
    async def handler(ev: StoredEvent) -> None:  # pragma: no cover (nothing arrives)
        raise AssertionError("no message expected")

    consumer = PubSubPullConsumer(f"{prefix}nowhere", handler, project=PROJECT, streams=2)
    await asyncio.wait_for(consumer.run(), 30)  # returns: NOT_FOUND is permanent
    assert not consumer.running
    await consumer.stop()
