"""The ``ResultSink`` contract (``services/worker_results.py``: where the runner, the
scorer and the generator put their facts), run against both adapters:

- ``BatchingLocalSink``: the registry's ingestion in the same process (real PostgreSQL);
- ``BusResultSink``: the real Pub/Sub client publishing on the ``results`` topic of
  Google's Pub/Sub fake, ingested by the registry's results handler (``make_ingest``, the
  one the registry service subscribes) through a streaming pull.

The contract: every fact a sink is given is recorded on its stream, with the event id the
worker chose (so a fact proposed twice is recorded once) and the worker's name as actor,
flushed or not. ``delivered(n)`` waits until the registry has taken the ``n`` facts the
test handed over: at once after ``flush`` in process; over Pub/Sub, once the ingestion
acked ``n`` messages. The fake delivers out of order, so nothing here asserts order.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from harness.bus.pubsub import PubSubBus, PubSubPullConsumer, ensure_topology
from harness.bus.topics import subscription_name
from harness.events.run_events import (
    CaseResultRecorded,
    RunStarted,
    result_event_id,
    run_event_id,
)
from services.registry.service import make_ingest
from services.worker_results import BatchingLocalSink, BusResultSink
from tests.support.pubsub_fake import PROJECT, PubSubFakeUnavailable, use_fake
from tests.support.worker_ports import request_run, result_of

HANG_GUARD_S = 60  # a broken adapter fails here instead of hanging the suite


@pytest.fixture(autouse=True)
def _judge_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # runs name an openai/ judge


async def until(check, what: str):
    deadline = asyncio.get_running_loop().time() + HANG_GUARD_S
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.02)
    return found


def result_fact(run, key):
    return (run.stream, CaseResultRecorded(run_id=run.id,
                                           result=result_of(run.id, key).model_dump(mode="json")),
            result_event_id(run.id, *key))


async def worker_facts(runtime, stream_id: str) -> list:
    """The stream's events a worker proposed: not the registry's own (the request, its
    shards, and the completion the registry decides once every item is recorded)."""
    registry_own = {"RunRequested", "RunShardRequested", "RunCompleted"}
    return [e for e in await runtime.store.read_stream(stream_id) if e.type not in registry_own]


class ResultSinkContract:
    @pytest.fixture
    def sinks(self):
        """``sinks(actor)``: a new sink publishing as worker ``actor``."""
        raise NotImplementedError

    @pytest.fixture
    def delivered(self):
        """``await delivered(n)``: the registry has taken the ``n`` facts handed over."""
        raise NotImplementedError

    async def test_each_fact_is_recorded_on_its_stream_with_its_id_and_the_workers_actor(
            self, sinks, delivered, runtime, client):
        a, b = await request_run(client, "a"), await request_run(client, "b")
        facts = [(a.stream, RunStarted(run_id=a.id, worker="w1"), run_event_id(a.id, "started")),
                 *(result_fact(a, key) for key in a.keys),
                 (b.stream, RunStarted(run_id=b.id, worker="w2"), run_event_id(b.id, "started"))]
        sink = sinks("scorer")
        for stream_id, event, event_id in facts:
            await sink.publish(stream_id, event, event_id)
        await sink.flush()
        await delivered(len(facts))
        for run in (a, b):
            stored = await worker_facts(runtime, run.stream)
            assert sorted((str(e.event_id), e.type, e.data) for e in stored) == sorted(
                (str(i), e.TYPE, e.model_dump(mode="json")) for s, e, i in facts
                if s == run.stream)
            assert {e.metadata.actor for e in stored} == {"scorer"}
        recorded = await runtime.pool.fetch(
            "SELECT case_id, target_id, repeat FROM run_results WHERE run_id = $1", a.id)
        assert {(r["case_id"], r["target_id"], r["repeat"]) for r in recorded} == set(a.keys)

    async def test_a_fact_proposed_again_is_recorded_once(self, sinks, delivered, runtime,
                                                          client):
        run = await request_run(client, "again")
        fact = result_fact(run, run.keys[0])
        first = sinks("runner")
        await first.publish(*fact)
        await first.flush()
        again = sinks("runner")  # a restarted worker computes the same result again
        await again.publish(*fact)
        await again.publish(*result_fact(run, run.keys[1]))
        await again.flush()
        await delivered(3)
        stored = await worker_facts(runtime, run.stream)
        assert sorted(str(e.event_id) for e in stored) == sorted(
            str(result_event_id(run.id, *key)) for key in run.keys[:2])

    async def test_facts_are_recorded_without_a_flush(self, sinks, runtime, client):
        run = await request_run(client, "unflushed")
        sink = sinks("runner")
        await sink.publish(*result_fact(run, run.keys[0]))  # and no flush
        stored = await until(lambda: worker_facts(runtime, run.stream), "the fact recorded")
        assert [e.event_id for e in stored] == [result_event_id(run.id, *run.keys[0])]

    async def test_many_facts_are_all_recorded_once(self, sinks, delivered, runtime, client):
        run = await request_run(client, "many", cases=5, repeat=50)
        sink = sinks("runner")
        for key in run.keys:  # 250: more than the local sink's batch
            await sink.publish(*result_fact(run, key))
        await sink.flush()
        await delivered(len(run.keys))
        assert await runtime.pool.fetchval(
            "SELECT count(*) FROM run_results WHERE run_id = $1", run.id) == 250
        assert len(await worker_facts(runtime, run.stream)) == 250


class TestBatchingLocalSink(ResultSinkContract):
    @pytest.fixture
    async def sinks(self, runtime):
        made: list[BatchingLocalSink] = []

        def make(actor: str) -> BatchingLocalSink:
            made.append(BatchingLocalSink(runtime.commands, actor=actor))
            return made[-1]

        yield make
        for sink in made:
            await sink.close()

    @pytest.fixture
    def delivered(self):
        async def delivered(n: int) -> None:
            return None  # recorded by the time flush() returned

        return delivered


class TestBusResultSink(ResultSinkContract):
    @pytest.fixture
    async def ingestion(self, monkeypatch, runtime):
        """The registry taking the ``results`` topic, as its service does in pull mode."""
        try:
            use_fake(monkeypatch)
        except PubSubFakeUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        prefix = f"t{uuid.uuid4().hex[:8]}-"
        await asyncio.to_thread(ensure_topology, PROJECT, prefix)
        consumer = PubSubPullConsumer(subscription_name("results", "registry", prefix),
                                      make_ingest(lambda: runtime), project=PROJECT)
        await consumer.start()
        yield prefix, consumer
        await consumer.stop()

    @pytest.fixture
    async def sinks(self, ingestion):
        prefix, _ = ingestion
        bus = PubSubBus(PROJECT, prefix=prefix)
        yield lambda actor: BusResultSink(bus, actor=actor)
        await bus.close()

    @pytest.fixture
    def delivered(self, ingestion):
        _, consumer = ingestion

        async def delivered(n: int) -> None:
            async def taken():
                assert consumer.stats.nacked == 0, "the registry refused a fact"
                return consumer.stats.acked >= n

            await until(taken, f"{n} facts ingested")

        return delivered
