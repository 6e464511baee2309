import asyncio
import uuid

import asyncpg
import pytest

from harness.events import NewEvent
from harness.eventstore import CatchUpSubscription, ConcurrencyError, EventStore, migrate
from harness.eventstore.migrate import EVENTSTORE_MIGRATIONS


def ev(type_="Thing", **data):
    return NewEvent(type=type_, data=data or {"n": 1}, metadata={"actor": "t"})


async def test_append_assigns_versions_and_positions(pool):
    store = EventStore(pool)
    a = await store.append("s-1", 0, [ev(n=1), ev(n=2)])
    b = await store.append("s-2", None, [ev(n=3)])
    c = await store.append("s-1", 2, [ev(n=4)])
    assert [e.stream_version for e in a + c] == [1, 2, 3]
    positions = [e.global_position for e in a + b + c]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert [e.data["n"] for e in await store.read_stream("s-1")] == [1, 2, 4]
    assert [e.data["n"] for e in await store.read_all(0, 10)] == [1, 2, 3, 4]
    assert [e.data["n"] for e in await store.read_all(positions[1], 2)] == [3, 4]
    assert (await store.read_stream("s-1"))[0].metadata.actor == "t"


async def test_wrong_expected_version_raises_and_writes_nothing(pool):
    store = EventStore(pool)
    await store.append("s", 0, [ev()])
    with pytest.raises(ConcurrencyError) as info:
        await store.append("s", 0, [ev(), ev()])
    assert info.value.actual == 1 and info.value.expected == 0
    with pytest.raises(ConcurrencyError):
        await store.append("s", 5, [ev()])
    assert len(await store.read_stream("s")) == 1


async def test_reappending_a_stored_event_id_is_a_noop(pool):
    store = EventStore(pool)
    e = ev(n=1)
    first = await store.append("s", 0, [e])
    again = await store.append("s", 0, [e])  # same id, stale expected version: still a no-op
    assert len(first) == 1 and again == []
    assert len(await store.read_all()) == 1


async def test_append_is_atomic(pool):
    store = EventStore(pool)
    # the second event violates a constraint (type NOT NULL): the whole batch is rejected
    with pytest.raises(asyncpg.NotNullViolationError):
        await pool.fetch("SELECT * FROM harness_append('s', 0, $1, $2, $3, $4, $5)",
                         [uuid.uuid4(), uuid.uuid4()], ["X", None], [1, 1], [{}, {}], [{}, {}])
    assert await store.read_stream("s") == []
    assert await store.head_position() == 0


async def test_partly_stored_batch_appends_only_the_new_events(pool):
    store = EventStore(pool)
    a, b = ev(n=1), ev(n=2)
    await store.append("s", 0, [a])
    stored = await store.append("s", None, [a, b])
    assert [e.event_id for e in stored] == [b.event_id] and stored[0].stream_version == 2


async def test_concurrent_appends_with_same_expected_version_one_wins(pool):
    store = EventStore(pool)
    results = await asyncio.gather(*[store.append("race", 0, [ev(n=i)]) for i in range(20)],
                                   return_exceptions=True)
    wins = [r for r in results if not isinstance(r, Exception)]
    assert len(wins) == 1
    assert all(isinstance(r, ConcurrencyError) for r in results if isinstance(r, Exception))


async def test_migrations_are_recorded_and_idempotent(pool):
    async with pool.acquire() as conn:
        assert await migrate(conn, [("eventstore", EVENTSTORE_MIGRATIONS)]) == []
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM schema_migrations ORDER BY id")]
    assert "eventstore/0001_events" in ids and any(i.startswith("registry/") for i in ids)


async def test_stored_v1_event_is_read_upcast(pool):
    await pool.execute(
        "INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data) "
        "VALUES ($1, 'prompt-old', 1, 'PromptVersionCreated', 1, $2)",
        uuid.uuid4(), {"prompt_id": "old", "version": 1, "template": "{{ q }}", "note": "n"})
    [e] = await EventStore(pool).read_stream("prompt-old")
    assert e.schema_version == 2 and e.data["variables"] == ["q"]
    raw = await pool.fetchval("SELECT data FROM events WHERE stream_id = 'prompt-old'")
    assert "template" in raw  # stored rows are never rewritten


async def test_catch_up_subscription_follows_new_events_and_resumes(pool, db_url):
    store = EventStore(pool)
    await store.append("s", 0, [ev(n=i) for i in range(5)])
    seen: list[int] = []

    async def handler(e):
        seen.append(e.data["n"])

    sub = CatchUpSubscription(store, "test-sub", handler, batch_size=2, poll_interval=30,
                              listen_url=db_url)
    task = asyncio.create_task(sub.run())
    await asyncio.wait_for(sub.caught_up.wait(), 10)
    assert seen == [0, 1, 2, 3, 4]
    await store.append("s", 5, [ev(n=5)])  # poll interval is 30 s: only NOTIFY can wake it
    for _ in range(600):
        if len(seen) == 6:
            break
        await asyncio.sleep(0.05)
    assert seen == [0, 1, 2, 3, 4, 5]
    sub.stop()
    await task

    seen2: list[int] = []

    async def handler2(e):
        seen2.append(e.data["n"])

    await store.append("s", 6, [ev(n=6)])
    sub2 = CatchUpSubscription(store, "test-sub", handler2, poll_interval=0.1)
    task2 = asyncio.create_task(sub2.run())
    await asyncio.wait_for(sub2.caught_up.wait(), 10)
    sub2.stop()
    await task2
    assert seen2 == [6]  # resumed from its named checkpoint
