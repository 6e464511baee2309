"""The outbox relay publishes each batch at once; these tests pin what that must not change:
the checkpoint never passes an event the bus did not accept, a failure mid-batch resumes
from the failed event (not from the batch's start, not after it), and per stream
(ordering key) Pub/Sub accepts the events in stream order, also across retries.

Against a real PostgreSQL and Google's Pub/Sub fake. The fake delivers out of order, but
it numbers messages as it accepts them (``m1``, ``m2``, ...), which is the order Pub/Sub
uses for ordered delivery: per-key order is asserted on those ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict

import orjson
from google.cloud import pubsub_v1

from harness.bus import InProcessBus, OutboxRelay, PublishIncomplete
from harness.bus.publisher import KeyedPublisher
from harness.bus.pubsub import PubSubBus, PubSubPullConsumer, ensure_topology
from harness.bus.topics import Topic
from harness.events import EventMetadata, NewEvent, StoredEvent
from harness.eventstore import EventStore
from harness.eventstore.subscription import load_checkpoint
from tests.support.pubsub_fake import PROJECT

EVERYTHING = Topic("all", None, "registry", ())
SPECIAL = Topic("special", frozenset({"Special"}), "registry", ())


async def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def make_tap(prefix: str, key: str) -> str:
    sub = pubsub_v1.SubscriberClient()
    path = f"projects/{PROJECT}/subscriptions/{prefix}{key}-tap"
    sub.create_subscription(request={"name": path, "ack_deadline_seconds": 10,
                                     "topic": f"projects/{PROJECT}/topics/{prefix}{key}"})
    sub.close()
    return path


def drain(path: str) -> list:
    """Every message on the subscription (all were published before): pull and ack until
    a pull comes back empty (the fake answers an empty pull after 0.5 s)."""
    sub = pubsub_v1.SubscriberClient()
    got = []
    try:
        while True:
            resp = sub.pull(request={"subscription": path, "max_messages": 1000}, timeout=10)
            if not resp.received_messages:
                return got
            sub.acknowledge(request={"subscription": path,
                                     "ack_ids": [m.ack_id for m in resp.received_messages]})
            got += [m.message for m in resp.received_messages]
    finally:
        sub.close()


def versions_by_key(messages: list) -> dict[str, list[int]]:
    """Per ordering key, the stream versions in the order the fake accepted them."""
    by_key: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for m in messages:
        env = orjson.loads(m.data)
        assert m.ordering_key == env["stream_id"]
        by_key[m.ordering_key].append((int(m.message_id.lstrip("m")), env["stream_version"]))
    return {k: [v for _, v in sorted(pairs)] for k, pairs in by_key.items()}


class CountingBus(PubSubBus):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.incomplete: list[int] = []  # PublishIncomplete.published, per failed batch

    async def publish_batch(self, events) -> None:
        try:
            await super().publish_batch(events)
        except PublishIncomplete as exc:
            self.incomplete.append(exc.published)
            raise


async def stop(relay: OutboxRelay, task: asyncio.Task) -> None:
    relay.stop()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(task, 15)


async def test_failure_mid_batch_checkpoints_before_the_failed_event_and_resumes_there(
        emulator, prefix, pool):
    """Two streams interleaved in one batch; the 5th event's copy to a missing topic fails.
    The checkpoint stops just before it, the four before it are never published again,
    it and everything after it are republished in stream order until the topic exists."""
    ensure_topology(PROJECT, prefix, topics=[EVERYTHING])  # "special" is missing for now
    tap = make_tap(prefix, "all")
    store = EventStore(pool)
    events: list[StoredEvent] = []
    for version in range(1, 5):  # A1 B1 A2 B2 A3(Special) B3 A4 B4
        for stream in ("A", "B"):
            kind = "Special" if (stream, version) == ("A", 3) else "Tick"
            events += await store.append(f"s-{stream}", version - 1,
                                         [NewEvent(type=kind, data={"v": version})])
    failed = events[4]
    assert failed.type == "Special"

    bus = CountingBus(PROJECT, prefix=prefix, topics=[EVERYTHING, SPECIAL], attempts=1,
                      publish_timeout=5)
    relay = OutboxRelay(store, bus, batch_size=100, retry_delay=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: len(bus.incomplete) >= 3, what="three failed attempts")
    finally:
        await stop(relay, task)
    # the first attempt got the 4 events before it accepted; the retries start at it
    assert bus.incomplete == [4] + [0] * (len(bus.incomplete) - 1)
    assert await load_checkpoint(pool, "outbox-relay") == failed.global_position - 1
    attempts = len(bus.incomplete)

    ensure_topology(PROJECT, prefix, topics=[SPECIAL])  # the topic is back
    special_tap = make_tap(prefix, "special")
    relay = OutboxRelay(store, bus, batch_size=100, retry_delay=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: relay.subscription.caught_up.is_set(), what="caught up")
    finally:
        await stop(relay, task)
    assert await load_checkpoint(pool, "outbox-relay") == events[-1].global_position
    await bus.close()

    seen = versions_by_key(await asyncio.to_thread(drain, tap))
    # before the failed event: exactly once; from it on: once per attempt, each replay in
    # stream order (A3 A4 and B3 B4 again, never A4 before A3)
    replay = [3, 4]
    assert seen["s-A"] == [1, 2, 3, 4] + replay * attempts
    assert seen["s-B"] == [1, 2, 3, 4] + replay * attempts
    special = await asyncio.to_thread(drain, special_tap)
    assert [orjson.loads(m.data)["event_id"] for m in special] == [str(failed.event_id)]


async def test_batches_keep_stream_order_per_ordering_key(emulator, prefix, pool):
    """Five streams appended interleaved, relayed in batches of 17 (copies published
    concurrently): per stream, Pub/Sub accepted every version once, in order."""
    ensure_topology(PROJECT, prefix, topics=[EVERYTHING])
    tap = make_tap(prefix, "all")
    store = EventStore(pool)
    streams, per_stream = 5, 30
    for version in range(per_stream):
        for s in range(streams):
            await store.append(f"s-{s}", version, [NewEvent(type="Tick", data={"v": version})])
    bus = PubSubBus(PROJECT, prefix=prefix, topics=[EVERYTHING])
    relay = OutboxRelay(store, bus, batch_size=17, retry_delay=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: relay.subscription.caught_up.is_set(), what="caught up")
    finally:
        await stop(relay, task)
        await bus.close()
    assert relay.published == streams * per_stream
    seen = versions_by_key(await asyncio.to_thread(drain, tap))
    assert seen == {f"s-{s}": list(range(1, per_stream + 1)) for s in range(streams)}


async def test_publisher_sends_what_is_queued_per_key_in_one_request(emulator, prefix):
    """Messages queued at once go out as one request per (topic, ordering key), split at
    Pub/Sub's 1,000 messages per request, in queue order."""
    ensure_topology(PROJECT, prefix, topics=[EVERYTHING])
    tap = make_tap(prefix, "all")
    topic = f"projects/{PROJECT}/topics/{prefix}all"
    publisher = KeyedPublisher()
    try:
        futures = [publisher.publish(topic, orjson.dumps({"stream_id": "k1",
                                                          "stream_version": i}), "k1")
                   for i in range(1500)]
        futures += [publisher.publish(topic, orjson.dumps({"stream_id": "k2",
                                                           "stream_version": i}), "k2")
                    for i in range(10)]
        ids = await asyncio.gather(*futures)
    finally:
        await publisher.close()
    assert publisher.requests == 3  # k1: 1000 + 500, k2: 10
    assert len(set(ids)) == 1510
    seen = versions_by_key(await asyncio.to_thread(drain, tap))
    assert seen == {"k1": list(range(1500)), "k2": list(range(10))}


async def test_publisher_fails_what_is_queued_behind_a_failed_request(emulator, prefix):
    """A key's failed request fails the messages queued behind it (none overtakes it); a
    later message on that key is sent afresh."""
    topic = f"projects/{PROJECT}/topics/{prefix}missing"
    publisher = KeyedPublisher(attempts=1)
    try:
        futures = [publisher.publish(topic, b"first", "k")]
        await asyncio.sleep(0)  # its request is in flight now
        futures += [publisher.publish(topic, b"behind", "k") for _ in range(2)]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert all(isinstance(r, Exception) for r in results)
        assert publisher.requests == 1  # the two behind it were failed, never sent
        ensure_topology(PROJECT, prefix, topics=[Topic("missing", None, "registry", ())])
        assert await publisher.publish(topic, b"later", "k")
        assert publisher.requests == 2
    finally:
        await publisher.close()


async def test_inprocess_relay_failure_mid_batch_resumes_from_the_failed_event(pool):
    """The in-process bus: a handler that fails once on the 4th event of a batch. The
    relay resumes from that event (checkpoint just before it); the first three are not
    handled again."""
    store = EventStore(pool)
    events = await store.append("s-1", None, [NewEvent(type="Tick", data={"i": i})
                                              for i in range(8)])
    bad = events[3]
    handled: list[int] = []
    checkpoint_at_retry: list[int] = []

    async def handler(ev: StoredEvent) -> None:
        if ev.event_id == bad.event_id:
            if ev.global_position in handled:
                checkpoint_at_retry.append(await load_checkpoint(pool, "outbox-relay"))
            else:
                handled.append(ev.global_position)
                raise RuntimeError("handler failed once")
        handled.append(ev.global_position)

    bus = InProcessBus()
    bus.subscribe("test", handler)
    relay = OutboxRelay(store, bus, batch_size=100, retry_delay=0.01)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: relay.subscription.caught_up.is_set(), what="caught up")
    finally:
        await stop(relay, task)
    positions = [e.global_position for e in events]
    assert handled == positions[:4] + positions[3:]
    assert checkpoint_at_retry == [bad.global_position - 1]
    assert await load_checkpoint(pool, "outbox-relay") == positions[-1]


async def test_consumer_with_several_streams_handles_each_event_once(emulator, prefix):
    ensure_topology(PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix, pull_streams=3)
    seen: list[uuid.UUID] = []

    async def handler(ev: StoredEvent) -> None:
        seen.append(ev.event_id)

    bus.subscribe("runner", handler, types={"RunRequested"})
    consumer = bus._consumers[0]
    assert isinstance(consumer, PubSubPullConsumer) and consumer.streams == 3
    from datetime import UTC, datetime

    events = [StoredEvent(global_position=i + 1, event_id=uuid.uuid4(), stream_id=f"run-{i % 4}",
                          stream_version=i // 4 + 1, type="RunRequested", schema_version=1,
                          data={}, metadata=EventMetadata(), recorded_at=datetime.now(UTC))
              for i in range(60)]
    await bus.start()
    try:
        await bus.publish_batch(events)
        await wait_for(lambda: len(seen) >= len(events), what="every event")
        t_end = time.monotonic() + 0.3
        while time.monotonic() < t_end:  # nothing more arrives (no redelivery)
            await asyncio.sleep(0.05)
    finally:
        await bus.close()
    assert sorted(seen) == sorted(e.event_id for e in events)
    assert consumer.stats.acked == len(events) and consumer.stats.nacked == 0
