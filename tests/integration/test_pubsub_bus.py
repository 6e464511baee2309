"""PubSubBus, ensure_topology and PubSubPullConsumer with the real google-cloud-pubsub
client against Google's Pub/Sub fake (tools/pubsub-fake, built and started by the tests)
and a real PostgreSQL for the event store and the outbox relay.

The fake delivers out of order and has no dead-lettering (see test_pubsub_fake_gaps.py),
so these tests assert sets of events, never arrival order.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from google.cloud import pubsub_v1

from harness.bus import OutboxRelay, PublishIncomplete, idempotent
from harness.bus.pubsub import (
    PublishError,
    PubSubBus,
    PubSubPullConsumer,
    dead_letter_subscription_name,
    ensure_topology,
)
from harness.bus.topics import TOPICS, dead_letter_name, subscription_name, topic_name
from harness.events import EventMetadata, NewEvent, StoredEvent
from harness.events.run_events import CaseResultRecorded, RunStarted, result_event_id
from harness.eventstore import EventStore
from harness.eventstore.subscription import load_checkpoint
from tests.support.pubsub_fake import PROJECT, PubSubFake, use_fake


async def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def pull_all(path: str, expected: int, timeout: float = 20.0) -> list:
    """Synchronous pulls (acking) until ``expected`` messages arrived."""
    import time

    sub = pubsub_v1.SubscriberClient()
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < expected and time.monotonic() < deadline:
            resp = sub.pull(request={"subscription": path, "max_messages": 100}, timeout=5)
            if resp.received_messages:
                sub.acknowledge(request={"subscription": path,
                                         "ack_ids": [m.ack_id for m in resp.received_messages]})
                got += [m.message for m in resp.received_messages]
    finally:
        sub.close()
    return got


def sub_path(name: str) -> str:
    return f"projects/{PROJECT}/subscriptions/{name}"


def make_tap(prefix: str, key: str, name: str = "tap") -> str:
    """An extra pull subscription on a topic (as a downstream app makes on registry-events)."""
    sub = pubsub_v1.SubscriberClient()
    path = sub_path(f"{prefix}{key}-{name}")
    sub.create_subscription(request={"name": path, "ack_deadline_seconds": 10,
                                     "topic": f"projects/{PROJECT}/topics/{prefix}{key}"})
    sub.close()
    return path


# ------------------------------------------------------------------------------ topology


def test_topology_created_with_policies_and_idempotent(emulator, prefix):
    first = ensure_topology(PROJECT, prefix)
    topics = {topic_name(t.key, prefix) for t in TOPICS}
    dead = {dead_letter_name(t.key, prefix) for t in TOPICS}
    subs = {subscription_name(t.key, c, prefix) for t in TOPICS for c in t.consumers}
    dl_subs = {dead_letter_subscription_name(t.key, prefix) for t in TOPICS}
    created = {p.rsplit("/", 1)[-1] for p in first["created"]}
    assert created == topics | dead | subs | dl_subs
    assert first["existing"] == [] and first["updated"] == []

    second = ensure_topology(PROJECT, prefix)  # idempotent
    assert second["created"] == [] and second["updated"] == []
    assert len(second["existing"]) == len(first["created"])

    client = pubsub_v1.SubscriberClient()
    try:
        s = client.get_subscription(request={"subscription": sub_path(f"{prefix}runs-runner")})
        assert s.ack_deadline_seconds == 60
        assert s.enable_message_ordering
        assert s.dead_letter_policy.dead_letter_topic.endswith(f"/{prefix}runs-dead-letter")
        assert s.dead_letter_policy.max_delivery_attempts == 5
        assert s.retry_policy.minimum_backoff.total_seconds() == 10
        assert s.retry_policy.maximum_backoff.total_seconds() == 600
        assert s.push_config.push_endpoint == ""  # pull without endpoints

        # a push endpoint later turns the runner's subscription into a push subscription
        third = ensure_topology(PROJECT, prefix, {"runner": "https://runner.example"},
                                push_service_account="push@p.iam.gserviceaccount.com",
                                push_audience="https://runner.example")
        assert [p.rsplit("/", 1)[-1] for p in third["updated"]] == [f"{prefix}runs-runner"]
        s = client.get_subscription(request={"subscription": sub_path(f"{prefix}runs-runner")})
        assert s.push_config.push_endpoint == "https://runner.example/pubsub/push"
        assert s.push_config.oidc_token.service_account_email == \
            "push@p.iam.gserviceaccount.com"
        assert s.push_config.oidc_token.audience == "https://runner.example"
        again = ensure_topology(PROJECT, prefix, {"runner": "https://runner.example/pubsub/push"})
        assert again["updated"] == [] and again["created"] == []
    finally:
        client.close()


# ---------------------------------------------------------------- relay → Pub/Sub → pull


async def append_mixed(store: EventStore, runs: int = 4, per_run: int = 5) -> list[StoredEvent]:
    stored = []
    for r in range(runs):
        run_id = f"r{r}"
        events = [NewEvent(type="RunRequested", data={"run_id": run_id},
                           metadata=EventMetadata(actor="t", correlation_id=f"corr-{r}"))]
        events += [NewEvent(type="CaseResultRecorded", data={"run_id": run_id, "i": i})
                   for i in range(per_run)]
        stored += await store.append(f"run-{run_id}", None, events)
    stored += await store.append("prompt-p1", None,
                                 [NewEvent(type="PromptTicked", data={"v": 1})])
    return stored


async def test_relay_publishes_every_event_with_attributes_and_ordering_key(
        emulator, prefix, pool):
    ensure_topology(PROJECT, prefix)
    tap = make_tap(prefix, "registry-events")
    store = EventStore(pool)
    appended = await append_mixed(store)
    stored = {e.event_id: e for e in await store.read_all(0, 10_000)}
    assert set(stored) >= {e.event_id for e in appended}

    bus = PubSubBus(PROJECT, prefix=prefix)
    relay = OutboxRelay(store, bus, retry_delay=0.1)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: relay.subscription.caught_up.is_set(), what="relay caught up")
        assert await load_checkpoint(pool, "outbox-relay") == max(
            e.global_position for e in stored.values())

        # registry-events: every event, with the envelope and attributes
        msgs = await asyncio.to_thread(pull_all, tap, len(stored))
        assert len(msgs) == len(stored)
        import orjson

        for m in msgs:
            env = orjson.loads(m.data)
            ev = stored[uuid.UUID(env["event_id"])]
            assert env["stream_id"] == ev.stream_id == m.ordering_key
            assert env["global_position"] == ev.global_position
            assert env["type"] == ev.type and env["data"] == ev.data
            attrs = dict(m.attributes)
            assert attrs["type"] == ev.type
            assert attrs["schema_version"] == str(ev.schema_version)
            assert attrs["event_id"] == str(ev.event_id)
            assert attrs["stream_id"] == ev.stream_id
            assert attrs["global_position"] == str(ev.global_position)
            if ev.metadata.correlation_id:
                assert attrs["correlation_id"] == ev.metadata.correlation_id
        assert {uuid.UUID(orjson.loads(m.data)["event_id"]) for m in msgs} == set(stored)

        # runs: only RunRequested, handled by the runner's pull consumer
        runs_seen: list[StoredEvent] = []

        async def runner(ev: StoredEvent) -> None:
            runs_seen.append(ev)

        consumer = PubSubPullConsumer(sub_path(f"{prefix}runs-runner"), runner)
        await consumer.start()
        want = {e.event_id for e in stored.values() if e.type == "RunRequested"}
        await wait_for(lambda: {e.event_id for e in runs_seen} >= want, what="run requests")
        await asyncio.sleep(0.3)
        await consumer.stop()
        assert {e.event_id for e in runs_seen} == want
        assert all(e.type == "RunRequested" for e in runs_seen)
        got = {e.event_id: e for e in runs_seen}
        for eid in want:  # the handler sees the stored event as it was stored
            assert got[eid].global_position == stored[eid].global_position
            assert got[eid].stream_version == stored[eid].stream_version
            assert got[eid].metadata.correlation_id == stored[eid].metadata.correlation_id
            assert got[eid].recorded_at == stored[eid].recorded_at
        assert consumer.stats.acked == len(want) and consumer.stats.nacked == 0
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)
        await bus.close()


async def test_bus_subscribe_runs_handlers_from_pull(emulator, prefix):
    """The Bus port's subscribe(): the same wiring as the in-process bus, fed by pull."""
    ensure_topology(PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix)
    seen: list[StoredEvent] = []

    async def handler(ev: StoredEvent) -> None:
        seen.append(ev)

    bus.subscribe("runner", handler, types={"RunRequested"})
    with pytest.raises(ValueError, match="consumes no topic"):
        bus.subscribe("nobody", handler)
    await bus.start()
    try:
        from datetime import UTC, datetime

        events = [StoredEvent(global_position=i + 1, event_id=uuid.uuid4(), stream_id="run-x",
                              stream_version=i + 1, type=t, schema_version=1, data={"i": i},
                              metadata=EventMetadata(), recorded_at=datetime.now(UTC))
                  for i, t in enumerate(["RunRequested", "RunCancelled", "RunRequested"])]
        for ev in events:
            await bus.publish(ev)
        want = {events[0].event_id, events[2].event_id}  # RunCancelled: not asked for
        await wait_for(lambda: {e.event_id for e in seen} >= want, what="handled events")
        await asyncio.sleep(0.3)
        assert {e.event_id for e in seen} == want
    finally:
        await bus.close()


async def test_publish_result_goes_to_results_topic_for_ingestion(emulator, prefix):
    ensure_topology(PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix)
    received = []

    async def ingest(ev: StoredEvent) -> None:
        received.append(ev)

    consumer = PubSubPullConsumer(f"{prefix}results-registry", ingest, project=PROJECT)
    await consumer.start()
    try:
        eid = result_event_id("run1", "case1", "t1", 0)
        event = CaseResultRecorded(run_id="run1", result={"case_id": "case1", "pass": True})
        message_id = await bus.publish_result("run-run1", event, eid,
                                              {"actor": "runner", "correlation_id": "c-9"})
        assert message_id
        await bus.publish_result("run-run1", RunStarted(run_id="run1", worker="w"),
                                 uuid.uuid4())
        with pytest.raises(ValueError, match="not a result event"):
            from harness.events.run_events import RunRequested

            await bus.publish_result("run-run1", RunRequested(
                run_id="r", dataset_id="d", dataset_name="n", snapshot_uri="u",
                snapshot_sha256="s", case_count=0, targets=[]), uuid.uuid4())
        await wait_for(lambda: len(received) >= 2, what="results")
        got = {e.type: e for e in received}
        ev = got["CaseResultRecorded"]
        assert ev.event_id == eid and ev.stream_id == "run-run1"
        assert ev.data == event.model_dump(mode="json")
        assert ev.metadata.actor == "runner" and ev.metadata.correlation_id == "c-9"
        assert ev.global_position == 0 and ev.stream_version == 0  # not stored yet
    finally:
        await consumer.stop()
        await bus.close()


# ---------------------------------------------------------------------- publish failures


class RecordingBus(PubSubBus):
    """Remembers which positions Pub/Sub accepted (every copy of the event)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.accepted: set[int] = set()

    async def publish_batch(self, events) -> None:
        try:
            await super().publish_batch(events)
        except PublishIncomplete as exc:
            self.accepted |= {e.global_position for e in events[:exc.published]}
            raise
        self.accepted |= {e.global_position for e in events}


async def test_publish_failure_never_advances_checkpoint_past_unpublished_event(
        monkeypatch, prefix, pool):
    """Pub/Sub goes away mid-stream: the relay's checkpoint stays at or before the first
    event Pub/Sub did not accept; once Pub/Sub is back, everything after it arrives."""
    store = EventStore(pool)
    with PubSubFake() as fake:
        use_fake(monkeypatch, fake)
        ensure_topology(PROJECT, prefix)
        before = await append_mixed(store, runs=2, per_run=3)
        bus = RecordingBus(PROJECT, prefix=prefix, publish_timeout=2.0, attempts=2,
                           retry_backoff=0.05)
        relay = OutboxRelay(store, bus, batch_size=5, retry_delay=0.1)
        task = asyncio.create_task(relay.run())
        checkpoints: list[int] = []
        try:
            await wait_for(lambda: relay.subscription.caught_up.is_set(), what="caught up")
            head = max(e.global_position for e in before)
            assert await load_checkpoint(pool, "outbox-relay") >= head

            fake.stop()  # Pub/Sub is down
            during = await store.append("run-down", None, [
                NewEvent(type="RunRequested", data={"i": i}) for i in range(12)])
            down_positions = {e.global_position for e in during}
            for _ in range(30):  # ~3 s of relay retries while down
                checkpoints.append(await load_checkpoint(pool, "outbox-relay"))
                await asyncio.sleep(0.1)
            assert not (bus.accepted & down_positions)  # nothing could be published...
            assert max(checkpoints) < min(down_positions)  # ...so the checkpoint stayed
            assert relay.published < len(before) * 2 + 1  # no phantom successes

            fake.start()  # back (empty: a new process), the topology is made again
            ensure_topology(PROJECT, prefix)
            tap = make_tap(prefix, "runs")
            await wait_for(lambda: down_positions <= bus.accepted, timeout=40,
                           what="republish after the outage")
            # the checkpoint is saved once the last batch was accepted (not before)
            final = await load_checkpoint(pool, "outbox-relay")
            for _ in range(200):
                if final == max(down_positions):
                    break
                checkpoints.append(final)
                await asyncio.sleep(0.05)
                final = await load_checkpoint(pool, "outbox-relay")
            checkpoints.append(final)
            assert final == max(down_positions)
            for cp in checkpoints:  # every position up to any checkpoint was accepted
                stored_upto = {e.global_position for e in await store.read_all(0, 10_000)
                               if e.global_position <= cp}
                assert stored_upto <= bus.accepted
            # the runs published after the outage are all there
            msgs = await asyncio.to_thread(pull_all, tap, len(during))
            import orjson

            assert {orjson.loads(m.data)["global_position"] for m in msgs} == down_positions
        finally:
            relay.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 15)
            await bus.close()


async def test_publish_raises_publish_error_when_pubsub_is_unreachable(monkeypatch):
    from datetime import UTC, datetime

    from harness.net import free_port

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nobody there
    bus = PubSubBus(PROJECT, publish_timeout=1.0, attempts=2, retry_backoff=0.01)
    ev = StoredEvent(global_position=1, event_id=uuid.uuid4(), stream_id="run-1",
                     stream_version=1, type="RunRequested", schema_version=1, data={},
                     metadata=EventMetadata(), recorded_at=datetime.now(UTC))
    try:
        with pytest.raises(PublishError, match="failed after 2 attempts"):
            await asyncio.wait_for(bus.publish(ev), 30)
        # the ordering key was resumed: a later publish is attempted again, not refused
        with pytest.raises(PublishError) as info:
            await asyncio.wait_for(bus.publish(ev), 30)
        assert "Paused" not in repr(info.value.__cause__)
    finally:
        await bus.close()


# --------------------------------------------------------- idempotency and redelivery


async def test_duplicates_and_redeliveries_are_no_ops_for_idempotent_consumer(
        emulator, prefix, pool):
    ensure_topology(PROJECT, prefix)
    bus = PubSubBus(PROJECT, prefix=prefix)
    effects: list[uuid.UUID] = []
    failed_once: set[uuid.UUID] = set()

    async def handler(ev: StoredEvent) -> None:
        effects.append(ev.event_id)
        if ev.data.get("flaky") and ev.event_id not in failed_once:
            failed_once.add(ev.event_id)  # effect happened, record did not: redelivered
            raise RuntimeError("crash after the effect")

    handled: list[uuid.UUID] = []

    async def counting(ev: StoredEvent) -> None:
        handled.append(ev.event_id)
        await wrapped(ev)

    wrapped = idempotent(pool, "runner-test", handler)
    consumer = PubSubPullConsumer(f"{prefix}runs-runner", counting, project=PROJECT)
    await consumer.start()
    try:
        from datetime import UTC, datetime

        events = [StoredEvent(global_position=i + 1, event_id=uuid.uuid4(), stream_id=f"run-{i}",
                              stream_version=1, type="RunRequested", schema_version=1,
                              data={"flaky": i % 3 == 0}, metadata=EventMetadata(),
                              recorded_at=datetime.now(UTC)) for i in range(9)]
        for ev in events:
            await bus.publish(ev)
        for ev in events[::2]:  # the relay repeating the tail of a batch after a crash
            await bus.publish(ev)
        ids = {e.event_id for e in events}
        flaky = {e.event_id for e in events if e.data["flaky"]}
        expected_deliveries = len(events) + len(events[::2]) + len(flaky)
        await wait_for(lambda: len(handled) >= expected_deliveries, what="all deliveries")
        await asyncio.sleep(0.3)
        assert set(handled) == ids
        assert len(handled) == expected_deliveries  # duplicates and redeliveries arrived
        assert consumer.stats.nacked == len(flaky)  # the failures were nacked, then redelivered
        # ... and changed nothing: one effect per event, plus the one that crashed before
        # its id was recorded (an effect that must itself be idempotent, as DESIGN says)
        assert sorted(effects) == sorted(list(ids) + list(flaky))
        rows = await pool.fetch("SELECT event_id FROM processed_events WHERE consumer = $1",
                                "runner-test")
        assert {r["event_id"] for r in rows} == ids
    finally:
        await consumer.stop()
        await bus.close()


async def test_pull_consumer_nacks_poison_and_keeps_going(emulator, prefix):
    ensure_topology(PROJECT, prefix)
    seen = []

    async def handler(ev: StoredEvent) -> None:
        seen.append(ev.event_id)

    consumer = PubSubPullConsumer(f"{prefix}runs-runner", handler, project=PROJECT)
    await consumer.start()
    pub = pubsub_v1.PublisherClient()
    try:
        topic = f"projects/{PROJECT}/topics/{prefix}runs"
        pub.publish(topic, b"not json").result(10)
        good = {"event_id": str(uuid.uuid4()), "stream_id": "run-1", "type": "RunRequested",
                "schema_version": 1, "data": {}, "metadata": {}}
        import orjson

        pub.publish(topic, orjson.dumps(good)).result(10)
        await wait_for(lambda: seen and consumer.stats.poison >= 2, what="poison + good")
        assert seen == [uuid.UUID(good["event_id"])]
        assert consumer.stats.nacked >= 2  # the poison message keeps coming back (nacked)
    finally:
        await consumer.stop()
        pub.stop()


async def test_graceful_stop_finishes_in_flight_and_acks(emulator, prefix):
    """stop() (SIGTERM) stops pulling, lets running handlers finish and ack, and nacks
    the rest, which a later consumer gets: nothing is lost, nothing done twice. (Messages
    still in transit on the closed stream come back after the ack deadline, 10 s here.)"""
    ensure_topology(PROJECT, prefix, ack_deadline_seconds=10)
    bus = PubSubBus(PROJECT, prefix=prefix)
    started: list[uuid.UUID] = []
    finished: list[uuid.UUID] = []

    async def slow(ev: StoredEvent) -> None:
        started.append(ev.event_id)
        await asyncio.sleep(0.5)
        finished.append(ev.event_id)

    from datetime import UTC, datetime

    events = [StoredEvent(global_position=i + 1, event_id=uuid.uuid4(), stream_id=f"run-{i}",
                          stream_version=1, type="RunRequested", schema_version=1, data={},
                          metadata=EventMetadata(), recorded_at=datetime.now(UTC))
              for i in range(6)]
    consumer = PubSubPullConsumer(f"{prefix}runs-runner", slow, project=PROJECT, max_messages=2)
    await consumer.start()
    try:
        for ev in events:
            await bus.publish(ev)
        await wait_for(lambda: len(started) >= 1, what="a handler started")
        await consumer.stop()
        assert not consumer.running
        assert finished == started  # in-flight handlers completed before stop() returned
        first = list(finished)
        assert consumer.stats.acked == len(first)

        rest: list[uuid.UUID] = []

        async def collect(ev: StoredEvent) -> None:
            rest.append(ev.event_id)

        again = PubSubPullConsumer(f"{prefix}runs-runner", collect, project=PROJECT)
        await again.start()
        ids = {e.event_id for e in events}
        await wait_for(lambda: set(first) | set(rest) >= ids, timeout=40, what="the rest")
        await asyncio.sleep(0.3)
        await again.stop()
        assert not set(first) & set(rest)  # acked ones are not delivered again
    finally:
        await bus.close()
