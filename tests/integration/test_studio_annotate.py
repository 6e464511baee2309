"""The studio's Annotate page under Streamlit's AppTest against a real registry over HTTP:
a queue's item comes up (masked), a reviewer scores it, "Save and next" records the scores
and completes it, the next one comes up, and the queue says when all are done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from harness.tracing.writer import mask_bodies
from tests.support.studio import page, run, texts


@pytest.fixture
async def queue(live_url, runtime, monkeypatch):
    """Two traces (the first with an e-mail, masked as the writer masks) in a queue asking
    for a numeric and a categorical score."""
    monkeypatch.setenv("HARNESS_URL", live_url)
    monkeypatch.delenv("HARNESS_API_KEY", raising=False)
    now = datetime.now(UTC)
    first = Trace(kind="chat", model_requested="openai/a", status=200, latency_ms=5.0,
                  created_at=now - timedelta(minutes=2),
                  request={"messages": [{"role": "user", "content": "mail kim@example.com"}]},
                  response={"content": "done"}, mask_bodies=True)
    mask_bodies(first)
    second = Trace(kind="chat", model_requested="openai/a", status=200, latency_ms=5.0,
                   created_at=now - timedelta(minutes=1),
                   request={"messages": [{"role": "user", "content": "second question"}]},
                   response={"content": "second answer"})
    await PostgresTraceStore(runtime.pool).write([first, second])
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as h:
        for body in ({"name": "stars", "data_type": "numeric", "min_value": 1,
                      "max_value": 5},
                     {"name": "tone", "data_type": "categorical",
                      "categories": [{"label": "rude", "value": 0},
                                     {"label": "kind", "value": 1}]}):
            assert (await h.post("/score-configs", json=body)).status_code == 201
        q = (await h.post("/queues", json={"name": "support", "score_configs":
                                           ["stars", "tone"]})).json()
        r = await h.post(f"/queues/{q['id']}/items",
                         json={"trace_ids": [str(first.id), str(second.id)]})
        assert r.status_code == 201, r.text
        yield h, q, first, second


async def test_score_one_item_and_move_on(queue):
    h, q, first, second = queue
    at = await run(page("annotate"))
    out = texts(at)
    assert "[EMAIL]" in out and "kim@example.com" not in out
    assert "0 of 2 done" in out
    item = (await h.get(f"/queues/{q['id']}/next")).json()["item"]
    at.number_input(key=f"an_{item['item_id']}_stars").set_value(4)
    at.radio(key=f"an_{item['item_id']}_tone").set_value("kind")
    at.text_area(key=f"an_{item['item_id']}_comment").input("polite")
    at.button(key="an_save").click()
    await run(at)
    out = texts(at)
    assert "Saved 2 score(s)." in out and "second question" in out and "1 of 2 done" in out
    scores = (await h.get(f"/traces/{first.id}")).json()["scores"]
    assert sorted((s["name"], s["value"], s["label"], s["comment"]) for s in scores) == [
        ("stars", 4.0, None, "polite"), ("tone", 1.0, "kind", "polite")]

    at.button(key="an_save").click()  # the defaults: the lowest stars, the first label
    await run(at)
    assert "Every item of this queue is done." in texts(at)
    scores = (await h.get(f"/traces/{second.id}")).json()["scores"]
    assert sorted((s["name"], s["value"]) for s in scores) == [("stars", 1.0), ("tone", 0.0)]
    assert (await h.get(f"/queues/{q['id']}")).json()["done_count"] == 2


async def test_no_queue_says_how_to_make_one(live_url, runtime, monkeypatch):
    monkeypatch.setenv("HARNESS_URL", live_url)
    monkeypatch.delenv("HARNESS_API_KEY", raising=False)
    at = await run(page("annotate"))
    assert "No annotation queue yet" in texts(at)
