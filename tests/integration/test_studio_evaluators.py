"""The studio's Evaluators page and the Usage page's score chart under Streamlit's AppTest,
against a real registry (and gateway) over HTTP: create an evaluator, see it listed with
its status, traffic and sampling rate, pause and resume it, change it, read its agreement
with people, add a score alert; the mean score per prompt version and model as a chart."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

from harness.evaluation.online import score_event_id
from harness.events import EventMetadata, streams
from harness.events.feedback_events import TraceScored
from harness.tracing import PostgresTraceStore
from harness.tracing.record import Trace
from tests.support.studio import page, point_studio_at, run, texts


@pytest.fixture
async def reg(live_url, monkeypatch):
    point_studio_at(monkeypatch, live_url)
    async with httpx.AsyncClient(base_url=live_url, timeout=60) as h:
        r = await h.post("/score-configs", json={"name": "correct", "data_type": "boolean"})
        assert r.status_code == 201, r.text
        yield h


async def _judge(runtime, evaluator_id: str, trace_id: str, name: str, passed: bool) -> None:
    await runtime.commands.record_facts(
        streams.trace(trace_id),
        [TraceScored(trace_id=trace_id, name=name, data_type="numeric",
                     value=1.0 if passed else 0.0, label="pass" if passed else "fail",
                     source="evaluator", evaluator_id=evaluator_id)],
        [score_event_id(evaluator_id, trace_id)], EventMetadata(actor="scorer"))


def _click(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click()


def _table(at):
    [table] = [d.value for d in at.dataframe if "sampling" in d.value.columns]
    return table


async def test_evaluators_create_list_pause_edit_and_agreement(reg, runtime):
    at = await run(page("evaluators"))
    out = texts(at)
    assert "No evaluators yet" in out and "No score alerts configured." in out

    at.text_input(key="ev_new_name").input("polite")
    at.selectbox(key="ev_new_type").select("llm-rubric")
    at.text_input(key="ev_new_value").input("answers politely")
    at.text_input(key="ev_new_application").input("support")
    at.slider(key="ev_new_rate").set_value(0.25)
    at.text_input(key="ev_new_human").input("correct")
    _click(at, "Create evaluator")
    await run(at)
    assert "Evaluator polite created: it scores 25% of the traffic it selects." in texts(at)
    row = _table(at).iloc[0]
    assert row["name"] == "polite" and row["status"] == "▶️ active"
    assert row["sampling"] == "25%" and row["traffic"] == "application=support"
    assert row["scored (24 h)"] == 0 and row["mean (24 h)"] == "—"
    assert row["scores with"] == "llm-rubric: answers politely"
    assert row["compared with"] == "correct"
    [ev] = (await reg.get("/evaluators")).json()
    assert ev["assertion"] == {"type": "llm-rubric", "value": "answers politely"}

    # no pairs yet: the page says so
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pairs"] == "0" and metrics["Accuracy"] == "—"
    assert "no trace has both" in texts(at)

    traces = [Trace(kind="chat", model_requested="openai/a", status=200, latency_ms=5.0,
                    created_at=datetime.now(UTC), request={"messages": []},
                    response={"content": "ok"}) for _ in range(3)]
    await PostgresTraceStore(runtime.pool).write(traces)
    for t, judged, person in zip(traces, [True, False, True], [True, False, False],
                                 strict=True):
        await _judge(runtime, ev["id"], str(t.id), "polite", judged)
        r = await reg.post(f"/traces/{t.id}/scores", json={"name": "correct",
                                                           "value": person})
        assert r.status_code in (200, 201), r.text
    await run(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Pairs"] == "3" and metrics["Accuracy"] == "66.7%"
    row = _table(at).iloc[0]
    assert row["scored (24 h)"] == 3 and row["mean (24 h)"] == "0.667"
    [confusion] = [d.value for d in at.dataframe if "person pass" in d.value.columns]
    assert list(confusion["person fail"]) == [1, 1]

    at.button(key="ev_toggle").click()
    await run(at)
    assert "Evaluator polite paused." in texts(at)
    assert _table(at).iloc[0]["status"] == "⏸️ paused"
    at.button(key="ev_toggle").click()
    await run(at)
    assert "Evaluator polite resumed." in texts(at)

    at.slider(key=f"ev_edit_{ev['id']}_rate").set_value(0.5)
    at.text_input(key=f"ev_edit_{ev['id']}_judge").input("openai/judge")
    _click(at, "Save changes")
    await run(at)
    assert "Evaluator polite saved." in texts(at)
    row = _table(at).iloc[0]
    assert row["sampling"] == "50%" and row["judge"] == "openai/judge"
    assert row["status"] == "▶️ active" and row["traffic"] == "application=support"

    # a refused change is a message naming the problem, not a traceback
    at.text_input(key="ev_new_name").input("has spaces")
    _click(at, "Create evaluator")
    await run(at)
    assert any("name" in e.value for e in at.error)

    at.text_input(key="sa_score").input("polite")
    at.number_input(key="sa_threshold").set_value(0.9)
    at.number_input(key="sa_min").set_value(1)
    at.text_input(key="sa_name").input("politeness")
    _click(at, "Create score alert")
    await run(at)
    assert "Score alert created: politeness below 0.9." in texts(at)
    [alerts] = [d.value for d in at.dataframe if "fires below" in d.value.columns]
    assert list(alerts["alert"]) == ["politeness"]
    assert list(alerts["mean now"]) == ["0.667 (3)"]
    # its mean is below: it fires (no webhook: the event only), listed under Fired
    await runtime.score_alerts.check()
    await run(at)
    [fired] = [d.value for d in at.dataframe if "period from" in d.value.columns]
    assert list(fired["alert"]) == ["politeness"] and list(fired["mean"]) == ["0.667 (3)"]
    assert list(fired["delivered"]) == ["event only"]
    at.button(key="sa_delete").click()
    await run(at)
    assert "Score alert politeness deleted." in texts(at)
    assert (await reg.get("/score-alerts")).json() == []


async def test_usage_shows_the_mean_score_per_prompt_version_and_model(runtime, monkeypatch):
    from services.gateway.config import GatewaySettings
    from tests.support.gateway import serve_gateway

    settings = GatewaySettings(deployments={}, num_retries=0, trace_flush_s=0.02,
                               alert_check_s=3600)
    async with serve_gateway(runtime, settings) as gw:
        point_studio_at(monkeypatch, gw.url)
        now = datetime.now(UTC)
        traces = [Trace(kind="chat", model_requested=model, status=200, latency_ms=5.0,
                        created_at=now, prompt_id="p1", prompt_version=version,
                        request={"messages": []}, response={"content": "ok"})
                  for model, version in [("openai/a", 1), ("openai/a", 1), ("openai/a", 2),
                                         ("openai/b", 2)]]
        await PostgresTraceStore(runtime.pool).write(traces)
        for t, passed in zip(traces, [True, False, True, True], strict=True):
            await _judge(runtime, "e1", str(t.id), "polite", passed)

        at = await run(page("usage"))
        assert at.selectbox(key="usage_score").options == ["polite"]
        [element] = [c for c in at.get("vega_lite_chart")
                     if json.loads(c.proto.spec)["encoding"]["y"]["title"] == "mean polite"]
        spec = json.loads(element.proto.spec)
        assert spec["encoding"]["color"]["title"] == "prompt version · model"
        [data] = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in element.proto.datasets]
        means = dict(zip(data["series"], data["mean"], strict=True))
        assert means == {"p1 v1 · openai/a": 0.5, "p1 v2 · openai/a": 1.0,
                         "p1 v2 · openai/b": 1.0}
