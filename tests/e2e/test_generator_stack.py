"""The generator as its own process: documents uploaded to the registry process land in
the GCS emulator, ``GenerationRequested`` reaches the generator over Google's Pub/Sub
fake, its facts come back on the ``results`` topic, and a redelivered request is a
no-op."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import process_stack, redeliver, stack_stub, wait_log
from tests.support.generation import qa_reply

DATA = Path(__file__).resolve().parents[1] / "data" / "generation"


@pytest.fixture
def stack(db_url, tmp_path, monkeypatch):
    with process_stack(db_url, tmp_path, monkeypatch, workers=("generator",)) as services:
        yield services


def wait_finished(c: httpx.Client, generation_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        g = c.get(f"/generations/{generation_id}").json()
        if g["status"] in ("completed", "failed"):
            return g
        assert time.monotonic() < deadline, g
        time.sleep(0.2)


def test_generation_through_the_generator_process_and_a_redelivery_is_a_no_op(stack):

    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack) as stub:
        stub.reply("writer", qa_reply)
        ds = c.post("/datasets", json={"name": "from-docs"}).json()
        r = c.post(f"/datasets/{ds['id']}/generate",
                   data={"num_questions": "3", "question_kinds": "simple",
                         "model": "openai/writer"},
                   files=[("files", ("handbook.pdf", (DATA / "handbook.pdf").read_bytes(),
                                     "application/pdf"))])
        assert r.status_code == 202, r.text
        g = wait_finished(c, r.json()["id"])
        assert (g["status"], g["generated"]) == ("completed", 3), g
        assert g["worker"] and g["documents"][0]["passages"] == 2
        cases = c.get(f"/datasets/{ds['id']}/cases").json()["items"]
        assert len(cases) == 3 and all(x["input"]["contexts"] for x in cases)
        calls = len(stub.chat_requests)
        assert calls == 3

        # Pub/Sub redelivers the request (published again on its topic)
        events = c.get("/events", params={"after": 0, "limit": 500}).json()["items"]
        requested = next(e for e in events if e["type"] == "GenerationRequested")
        redeliver(stack, requested)
        wait_log(stack["generator"], "generation_already_finished",
                 what="the generator did not handle the redelivery")
        assert len(stub.chat_requests) == calls
        assert c.get(f"/datasets/{ds['id']}").json()["case_count"] == 3


def test_a_cancelled_generation_stops_in_the_generator_process(stack):
    c = httpx.Client(base_url=stack["registry"].url, timeout=30)
    with stack_stub(stack, latency_s=0.3) as stub:  # 10 questions, 8 at a time: ~0.6 s a batch
        stub.reply("writer", qa_reply)
        ds = c.post("/datasets", json={"name": "to-cancel"}).json()
        r = c.post(f"/datasets/{ds['id']}/generate",
                   data={"num_questions": "60", "question_kinds": "simple",
                         "model": "openai/writer"},
                   files=[("files", ("shipping.txt", (DATA / "shipping.txt").read_bytes(),
                                     "text/plain"))])
        assert r.status_code == 202, r.text
        gid = r.json()["id"]
        deadline = time.monotonic() + 60
        while c.get(f"/generations/{gid}").json()["generated"] < 10:
            assert time.monotonic() < deadline, "no batch was recorded"
            time.sleep(0.05)
        r = c.post(f"/generations/{gid}/cancel", json={"reason": "enough"})
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text

        log = stack["generator"].log_path
        while b'"generation_stopped"' not in log.read_bytes():
            assert time.monotonic() < deadline, "the generator did not stop"
            time.sleep(0.1)
        calls = len(stub.chat_requests)
        time.sleep(1.5)
        assert len(stub.chat_requests) == calls < 60
    g = c.get(f"/generations/{gid}").json()
    assert (g["status"], g["reason"]) == ("cancelled", "enough")
    assert 10 <= g["generated"] < 60 and g["generated"] % 10 == 0
    assert c.get(f"/datasets/{ds['id']}").json()["case_count"] == g["generated"]
