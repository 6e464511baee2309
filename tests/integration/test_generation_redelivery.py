"""A generator that dies mid-generation, a redelivered request and a redelivered batch:
no model call is repeated for a recorded batch and no case is added twice."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from harness.events import EventMetadata
from harness.events.generation_events import CasesGenerated, GenerationRequested
from harness.llm import LLMClient
from services.generator.local import LocalGenerationProgress
from services.generator.worker import Generator
from services.worker_results import BatchingLocalSink
from tests.support.generation import qa_reply
from tests.support.stub_llm import StubLLM

DATA = Path(__file__).resolve().parents[1] / "data" / "generation"


class Crash(BaseException):
    """The process dies (nothing in the generator catches it)."""


class CrashAfterFirstBatch:
    def __init__(self, sink) -> None:
        self.sink = sink

    async def publish(self, stream_id, event, event_id) -> None:
        await self.sink.publish(stream_id, event, event_id)
        if isinstance(event, CasesGenerated):
            await self.sink.flush()
            raise Crash()

    async def flush(self) -> None:
        await self.sink.flush()


@pytest.fixture(autouse=True)
def _fake_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")


def _generator(rt, sink, stub: StubLLM) -> Generator:
    # a fresh LLM client each time: a new process has no response cache
    return Generator(llm=LLMClient(deployments={"*": {"api_base": stub.base_url}}),
                     artifacts=rt.artifacts, sink=sink,
                     progress=LocalGenerationProgress(rt.pool), default_model="openai/writer",
                     batch_size=2)


async def test_restart_and_redeliveries_neither_repeat_calls_nor_duplicate_cases(runtime,
                                                                                 client):
    rt, c = runtime, client  # the registry alone: the test plays the generator
    ds = (await c.post("/datasets", json={"name": "docs"})).json()
    with StubLLM() as stub:
        stub.reply("writer", qa_reply)
        r = await c.post(
            f"/datasets/{ds['id']}/generate",
            data={"num_questions": "6", "question_kinds": "simple"},
            files=[("files", ("shipping.txt", (DATA / "shipping.txt").read_bytes(),
                              "text/plain"))])
        gid = r.json()["id"]
        stream = f"generation-{gid}"
        req = GenerationRequested.model_validate(
            (await rt.store.read_stream(stream))[0].data)
        sink = BatchingLocalSink(rt.commands, actor="generator")

        with pytest.raises(Crash):
            await _generator(rt, CrashAfterFirstBatch(sink), stub).execute(req)
        g = (await c.get(f"/generations/{gid}")).json()
        assert (g["status"], g["generated"], g["batches"]) == ("running", 2, [0])
        assert len(stub.chat_requests) == 2

        # redelivered after the crash: batch 0 is skipped, batches 1 and 2 are made
        await _generator(rt, sink, stub).execute(req)
        g = (await c.get(f"/generations/{gid}")).json()
        assert (g["status"], g["generated"], g["batches"]) == ("completed", 6, [0, 1, 2])
        assert len(stub.chat_requests) == 6
        assert g["usage"]["calls"] == 6

        # redelivered once more: finished, nothing to do
        await _generator(rt, sink, stub).execute(req)
        assert len(stub.chat_requests) == 6

    cases = (await c.get(f"/datasets/{ds['id']}/cases")).json()
    assert cases["total"] == 6 and len({x["id"] for x in cases["items"]}) == 6
    events = await rt.store.read_stream(stream)
    assert [e.type for e in events].count("CasesGenerated") == 3

    # the results topic redelivers a batch: same id, then a copy under another id
    batch0 = next(e for e in events if e.type == "CasesGenerated" and e.data["batch"] == 0)
    fact = CasesGenerated.model_validate(batch0.data)
    meta = EventMetadata(actor="generator")
    assert await rt.commands.record_facts(stream, [fact], [batch0.event_id], meta) == []
    again = await rt.commands.record_facts(stream, [fact], [uuid.uuid4()], meta)
    assert len(again) == 1  # stored as a fact, but it adds nothing
    assert (await c.get(f"/datasets/{ds['id']}")).json()["case_count"] == 6
    assert (await c.get(f"/generations/{gid}")).json()["generated"] == 6
    dataset_events = await rt.store.read_stream(f"dataset-{ds['id']}")
    assert [e.type for e in dataset_events].count("CasesAdded") == 3
    await sink.close()
