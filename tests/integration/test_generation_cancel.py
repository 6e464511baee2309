"""Cancelling a generation: the generator stops (at once where the event reaches it, at
the next batch boundary where only the registry's status does), the cases already made
stay, and a redelivered request of a cancelled generation does nothing."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from pathlib import Path

import pytest

from harness.events import EventMetadata
from harness.events.generation_events import (
    CasesGenerated,
    GenerationRequested,
    GenerationStarted,
)
from harness.llm import LLMClient
from services.generator.local import LocalGenerationProgress
from services.generator.worker import Generator
from services.registry.read import projections
from services.worker_results import BatchingLocalSink
from tests.support.generation import qa_reply
from tests.support.stub_llm import StubLLM

DATA = Path(__file__).resolve().parents[1] / "data" / "generation"
ANA = {"X-Actor": "ana"}


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


async def _request(c, num_questions: int) -> tuple[dict, dict]:
    ds = (await c.post("/datasets", json={"name": f"docs-{uuid.uuid4().hex[:8]}"})).json()
    r = await c.post(
        f"/datasets/{ds['id']}/generate",
        data={"num_questions": str(num_questions), "question_kinds": "simple",
              "model": "openai/writer"},
        files=[("files", ("shipping.txt", (DATA / "shipping.txt").read_bytes(),
                          "text/plain"))])
    assert r.status_code == 202, r.text
    return ds, r.json()


async def _until(check, what: str, timeout: float = 30):
    """Poll ``check`` (a function, or a coroutine function) until it gives something true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_cancel_mid_generation_keeps_the_cases_made_and_ignores_a_redelivery(
        stack, stack_client):
    c = stack_client
    with StubLLM(latency_s=0.3) as stub:  # 10 questions, 8 at a time: a batch takes ~0.6 s
        stub.reply("writer", qa_reply)
        stack.generator.llm.deployments["*"] = {"api_base": stub.base_url}
        ds, g = await _request(c, 50)
        gid = g["id"]

        async def first_batch():
            now = (await c.get(f"/generations/{gid}")).json()
            return now["generated"] >= 10 and now

        await _until(first_batch, "the first batch")
        r = await c.post(f"/generations/{gid}/cancel", headers=ANA,
                         json={"reason": "wrong documents"})
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["status"], out["reason"], out["cancelled_by"]) == (
            "cancelled", "wrong documents", "ana")
        assert out["finished_at"] and out["progress"] < 1

        # the event reaches the in-process generator on the bus: its task ends, no more calls
        await _until(lambda: not stack.generator.tasks, "the task to end")
        calls = len(stub.chat_requests)
        await asyncio.sleep(1.0)
        assert len(stub.chat_requests) == calls < 50

        g = (await c.get(f"/generations/{gid}")).json()
        assert g["status"] == "cancelled" and g["reason"] == "wrong documents"
        assert 10 <= g["generated"] < 50 and g["generated"] % 10 == 0  # whole batches only
        assert g["batches"] == list(range(g["generated"] // 10))
        # the cases made before the cancellation stay, waiting for review
        assert (await c.get(f"/datasets/{ds['id']}")).json()["case_count"] == g["generated"]
        queue = (await c.get(f"/datasets/{ds['id']}/review",
                             params={"generation_id": gid})).json()
        assert queue["total"] == g["generated"]

        # once ended, a cancellation is refused and changes nothing
        r = await c.post(f"/generations/{gid}/cancel", json={"reason": "again"})
        assert r.status_code == 409
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["type"] == "urn:harness:problem:generation-finished"
        assert problem["generation_status"] == "cancelled" and gid in problem["detail"]

        # Pub/Sub redelivers the request (or the process restarts): nothing is generated
        stream = await stack.runtime.store.read_stream(f"generation-{gid}")
        req = GenerationRequested.model_validate(stream[0].data)
        await stack.generator.start(req)
        assert len(stub.chat_requests) == calls
        assert await stack.generator.resume_unfinished(stack.load_generation_request) == 0

    types = [e.type for e in await stack.runtime.store.read_stream(f"generation-{gid}")]
    assert types.count("GenerationCancelled") == 1 and "GenerationCompleted" not in types
    assert (await c.get(f"/generations/{gid}")).json() == g
    # a rebuild replays the cancellation into the same row
    query = "SELECT * FROM generations ORDER BY id"
    before = [dict(r) for r in await stack.runtime.pool.fetch(query)]
    await projections.rebuild(stack.runtime.store)
    assert [dict(r) for r in await stack.runtime.pool.fetch(query)] == before


async def test_cancel_refuses_what_cannot_be_cancelled(stack, stack_client):
    c = stack_client
    r = await c.post("/generations/nope/cancel", json={"reason": "x"})
    assert r.status_code == 404 and r.json()["type"] == "urn:harness:problem:not-found"
    with StubLLM() as stub:
        stub.reply("writer", qa_reply)
        stack.generator.llm.deployments["*"] = {"api_base": stub.base_url}
        _, g = await _request(c, 1)

        async def completed():
            return (await c.get(f"/generations/{g['id']}")).json()["status"] == "completed"

        await _until(completed, "the generation to complete")
    r = await c.post(f"/generations/{g['id']}/cancel")  # no body: no reason
    assert r.status_code == 409 and r.json()["generation_status"] == "completed"
    r = await c.post(f"/generations/{g['id']}/cancel", json={"why": "x"})
    assert r.status_code == 422 and "why" in r.json()["detail"]
    assert (await c.get(f"/generations/{g['id']}")).json()["status"] == "completed"


class CancelAfterFirstBatch:
    """A sink that records the first batch, then has a person cancel the generation."""

    def __init__(self, sink, client, generation_id: str) -> None:
        self.sink, self.client, self.generation_id = sink, client, generation_id

    async def publish(self, stream_id, event, event_id) -> None:
        await self.sink.publish(stream_id, event, event_id)
        if isinstance(event, CasesGenerated) and event.batch == 0:
            await self.sink.flush()
            r = await self.client.post(f"/generations/{self.generation_id}/cancel")
            assert r.status_code == 200, r.text

    async def flush(self) -> None:
        await self.sink.flush()


def _generator(rt, sink, stub: StubLLM) -> Generator:
    return Generator(llm=LLMClient(deployments={"*": {"api_base": stub.base_url}}),
                     artifacts=rt.artifacts, sink=sink,
                     progress=LocalGenerationProgress(rt.pool), default_model="openai/writer",
                     batch_size=2)


async def test_a_generator_the_event_does_not_reach_stops_at_the_next_batch(runtime, client):
    rt, c = runtime, client  # the registry alone: the test plays the generator
    with StubLLM() as stub:
        stub.reply("writer", qa_reply)
        ds, g = await _request(c, 6)
        stream = await rt.store.read_stream(f"generation-{g['id']}")
        req = GenerationRequested.model_validate(stream[0].data)
        sink = BatchingLocalSink(rt.commands, actor="generator")
        await _generator(rt, CancelAfterFirstBatch(sink, c, g["id"]), stub).execute(req)
        assert len(stub.chat_requests) == 2  # batch 0 only; batches 1 and 2 never asked
        await sink.close()
    g = (await c.get(f"/generations/{g['id']}")).json()
    assert (g["status"], g["generated"], g["batches"]) == ("cancelled", 2, [0])
    assert (await c.get(f"/datasets/{ds['id']}")).json()["case_count"] == 2


async def test_the_event_stops_the_task_at_once_and_a_shutdown_still_raises(runtime, client):
    rt, c = runtime, client
    sink = BatchingLocalSink(rt.commands, actor="generator")
    with StubLLM(latency_s=3) as stub:  # the first batch would take 3 s
        generator = _generator(rt, sink, stub)
        stub.reply("writer", qa_reply)
        _, g = await _request(c, 4)
        stream_id = f"generation-{g['id']}"
        req = GenerationRequested.model_validate((await rt.store.read_stream(stream_id))[0].data)
        task = generator.start(req)
        await _until(lambda: len(stub.chat_requests) == 2, "the model calls")
        assert (await c.post(f"/generations/{g['id']}/cancel", json={"reason": "stop"})
                ).status_code == 200
        [cancelled] = [e for e in await rt.store.read_stream(stream_id)
                       if e.type == "GenerationCancelled"]
        started = asyncio.get_running_loop().time()
        await generator.handle(cancelled)
        assert await task is None  # ends normally: the request is done with
        assert asyncio.get_running_loop().time() - started < 1.5
        assert not generator.tasks and len(stub.chat_requests) == 2

        # a task stopped for another reason (the service shutting down) is not "done":
        # it raises, so that the request is delivered again
        _, other = await _request(c, 2)
        stream = await rt.store.read_stream(f"generation-{other['id']}")
        task = generator.start(GenerationRequested.model_validate(stream[0].data))
        await _until(lambda: len(stub.chat_requests) == 4, "the model calls")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await sink.close()
    g = (await c.get(f"/generations/{g['id']}")).json()
    assert (g["status"], g["generated"], g["reason"]) == ("cancelled", 0, "stop")
    assert (await c.get(f"/generations/{other['id']}")).json()["status"] == "running"


async def test_a_cancellation_does_not_conflict_with_facts_arriving_meanwhile(runtime, client):
    rt, c = runtime, client
    _, g = await _request(c, 4)  # no generator here: nothing calls a model
    stream = f"generation-{g['id']}"
    started = GenerationStarted(generation_id=g["id"], worker="w", planned=4)
    meta = EventMetadata(actor="generator")
    facts = [rt.commands.record_facts(stream, [started], [uuid.uuid4()], meta)
             for _ in range(30)]
    cancel = c.post(f"/generations/{g['id']}/cancel", json={"reason": "now"})
    r = (await asyncio.gather(*facts[:15], cancel, *facts[15:]))[15]
    assert r.status_code == 200, r.text  # not a 409 concurrency-conflict
    assert (await c.get(f"/generations/{g['id']}")).json()["status"] == "cancelled"
