"""The studio's Traces page under Streamlit's AppTest against a real registry over HTTP:
filter, list newest first, page on with the cursor, open one (masked content only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from harness.tracing.writer import mask_bodies
from tests.support.studio import page, point_studio_at, run, texts


@pytest.fixture
async def traces(live_url, runtime, monkeypatch):
    """60 gateway traces in the last hour (the newest an error with an e-mail in it, masked
    as the writer masks), served by the registry the studio points at."""
    point_studio_at(monkeypatch, live_url)
    now = datetime.now(UTC)
    rows = [Trace(kind="chat", model_requested="openai/a", status=200, latency_ms=20.0 + i,
                  created_at=now - timedelta(minutes=50) + timedelta(seconds=i),
                  application="support-bot" if i % 2 else None,
                  request={"messages": [{"role": "user", "content": f"question {i}"}]},
                  response={"choices": [{"message": {"content": f"answer {i}"}}]})
            for i in range(59)]
    bad = Trace(kind="chat", model_requested="smart", model_answered="openai/b", status=502,
                error="upstream down", latency_ms=900.0, created_at=now - timedelta(minutes=1),
                request={"messages": [{"role": "user", "content": "write kim@example.com"}]},
                response=None, mask_bodies=True)
    mask_bodies(bad)
    await PostgresTraceStore(runtime.pool).write([*rows, bad])
    return rows, bad


async def test_traces_filter_list_page_and_open_one_masked(traces):
    rows, bad = traces
    at = await run(page("traces"))
    [table] = [d.value for d in at.dataframe if "latency" in d.value.columns]
    assert len(table) == 50 and table["id"].iloc[0] == str(bad.id)  # newest first
    assert table["model"].iloc[0] == "smart → openai/b"
    assert table["status"].iloc[0] == "⚠️ 502"
    # the newest is open: its masked request, never the raw address
    out = texts(at)
    assert "[EMAIL]" in out and "kim@example.com" not in out
    assert "upstream down" in out

    # the next page holds the other ten, without repeats
    at.button(key="tr_older").click()
    await run(at)
    [older] = [d.value for d in at.dataframe if "latency" in d.value.columns]
    assert len(older) == 10 and not set(older["id"]) & set(table["id"])
    at.button(key="tr_newer").click()
    await run(at)

    # filters: errors only; an application; text in the masked content
    at.selectbox(key="tr_status").select("error")
    await run(at)
    [errors] = [d.value for d in at.dataframe if "latency" in d.value.columns]
    assert list(errors["id"]) == [str(bad.id)]
    at.selectbox(key="tr_status").select("")
    at.text_input(key="tr_app").input("support-bot")
    await run(at)
    [apps] = [d.value for d in at.dataframe if "latency" in d.value.columns]
    assert len(apps) == 29 and set(apps["application"]) == {"support-bot"}
    at.text_input(key="tr_app").input("")
    at.text_input(key="tr_q").input("question 7")
    await run(at)
    [found] = [d.value for d in at.dataframe if "latency" in d.value.columns]
    assert list(found["id"]) == [str(rows[7].id)]
    assert "question 7" in texts(at)  # opened: the only one listed
    at.text_input(key="tr_q").input("no such words")
    await run(at)
    assert "No traces match." in texts(at)


async def test_a_filter_matching_nothing_says_so(traces):
    at = await run(page("traces"))
    at.text_input(key="tr_q").input("x")
    at.text_input(key="tr_key").input("nobody")
    await run(at)
    assert "No traces match." in texts(at)


async def test_add_a_trace_or_the_page_to_a_dataset(traces, live_url):
    rows, bad = traces
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as h:
        ds = (await h.post("/datasets", json={"name": "from-traffic"})).json()
        at = await run(page("traces"))
        at.text_input(key="tr_q").input("question 7")
        await run(at)
        at.selectbox(key="tr_add_dataset").select(ds["id"])
        at.checkbox(key="tr_add_expected").check()
        at.button(key="tr_add").click()
        await run(at)
        assert "Added 1 case(s) to from-traffic." in texts(at)
        [case] = (await h.get(f"/datasets/{ds['id']}/cases")).json()["items"]
        assert case["metadata"]["from_trace"]["trace_id"] == str(rows[7].id)
        assert case["input"] == {"messages": [{"role": "user", "content": "question 7"}]}
        assert case["expected_output"] == "answer 7"

        # the whole page (the one already there is skipped and counted)
        at.text_input(key="tr_q").input("question 1")  # 1, 10..19
        await run(at)
        at.radio(key="tr_add_which").set_value(at.radio(key="tr_add_which").options[1])
        at.checkbox(key="tr_add_expected").uncheck()
        at.button(key="tr_add").click()
        await run(at)
        assert "Added 11 case(s) to from-traffic." in texts(at)
        at.button(key="tr_add").click()
        await run(at)
        assert "Added 0 case(s) to from-traffic; 11 already there." in texts(at)
        assert (await h.get(f"/datasets/{ds['id']}")).json()["case_count"] == 12
