"""Traces: every stored LLM call (gateway, runner, scorer, generator), filtered, listed
newest first, and one opened whole (its masked request and response). Pages go on with
the API's cursor, kept in the session while the filters stay the same."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import streamlit as st

from services.studio.api import ApiError, EndpointMissing, StudioAPI
from services.studio.ui import (
    api,
    call,
    flash,
    query_choice,
    show_error,
    show_flash,
    to_frame,
)
from services.studio.views.badges import ms, usd
from services.studio.views.traces import (
    model_label,
    prompt_label,
    score_rows,
    status_badge,
    trace_option,
    trace_rows,
)

WINDOWS = {"last hour": timedelta(hours=1), "last 24 hours": timedelta(days=1),
           "last 7 days": timedelta(days=7), "last 30 days": timedelta(days=30),
           "any time": None}
SOURCES = ["", "gateway", "runner", "scorer", "generator"]
PAGE = 50
_CURSORS = "traces_cursors"  # (filters, [cursor of page 1, 2, ...])


def filters() -> dict:
    c1, c2, c3, c4 = st.columns(4)
    window = c1.selectbox("Window", list(WINDOWS), index=1, key="tr_window")
    source = c2.selectbox("Source", SOURCES, key="tr_source",
                          format_func=lambda s: s or "any")
    status = c3.selectbox("Status", ["", "ok", "error"], key="tr_status",
                          format_func=lambda s: s or "any")
    min_latency = c4.number_input("Min latency (ms)", min_value=0.0, value=0.0, step=100.0,
                                  key="tr_latency")
    c5, c6, c7, c8 = st.columns(4)
    model = c5.text_input("Model", key="tr_model")
    application = c6.text_input("Application", key="tr_app")
    prompt_id = c7.text_input("Prompt id", key="tr_prompt")
    key = c8.text_input("Gateway key (name or id)", key="tr_key")
    q = st.text_input("Text in the request or response", key="tr_q",
                      placeholder="searches the masked content")
    span = WINDOWS[window]
    return {"since": (datetime.now(UTC) - span).replace(microsecond=0).isoformat()
            if span else None,
            "source": source or None, "status": status or None,
            "min_latency_ms": min_latency or None, "model": model.strip() or None,
            "application": application.strip() or None,
            "prompt_id": prompt_id.strip() or None, "key": key.strip() or None,
            "q": q.strip() or None}


def page_cursor(f: dict) -> tuple[str | None, list[str | None]]:
    """The cursor of the page shown; the window's moving start is not a new filter."""
    stable = json.dumps({**{k: v for k, v in f.items() if k != "since"},
                         "window": st.session_state.get("tr_window")}, sort_keys=True)
    held = st.session_state.get(_CURSORS)
    if held is None or held[0] != stable:
        held = (stable, [None])
        st.session_state[_CURSORS] = held
    return held[1][-1], held[1]


def show_trace(client: StudioAPI, trace_id: str) -> None:
    t = call(client.trace, trace_id)
    if t is None:
        return
    st.subheader(f"Trace {trace_id}")
    cols = st.columns(5)
    cols[0].metric("Status", status_badge(t))
    cols[1].metric("Latency", ms(t.get("latency_ms")))
    cols[2].metric("Tokens", "—" if t.get("total_tokens") is None else t["total_tokens"])
    cols[3].metric("Cost", usd(t.get("cost_usd")))
    cols[4].metric("Source", t.get("source") or "—")
    prompt = t.get("prompt")
    used = (f"{prompt.get('name') or prompt['id']} v{prompt.get('version')}" if prompt
            else prompt_label(t))
    st.caption(f"{t.get('created_at')} · model {model_label(t)} · application "
               f"{t.get('application') or '—'} · prompt {used} · key "
               f"{t.get('key_name') or '—'} · PII {t.get('pii_action') or '—'}")
    if t.get("error"):
        st.error(t["error"], icon="⚠️")
    if t.get("scores"):
        st.markdown("**Scores**")
        st.dataframe(to_frame(score_rows(t["scores"])), hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left:
        st.markdown("**Request** (masked)")
        st.code(json.dumps(t.get("request"), indent=2, ensure_ascii=False), language="json")
    with right:
        st.markdown("**Response** (masked)")
        st.code(json.dumps(t.get("response"), indent=2, ensure_ascii=False), language="json")


def add_to_dataset(client: StudioAPI, trace_id: str, page_ids: list[str]) -> None:
    """Make the open trace (or every trace of the page) cases of a dataset: variables of an
    application call, else its messages; the answer as expected output when asked. A trace
    already in the dataset is skipped and counted."""
    with st.expander("➕ Add to dataset"):
        datasets = call(client.datasets)
        if datasets is None:
            return
        if not datasets:
            st.info("No dataset yet: create one on the Datasets page.")
            return
        by_id = {d["id"]: d for d in datasets}
        target = st.selectbox("Dataset", list(by_id), key="tr_add_dataset",
                              format_func=lambda i: by_id[i]["name"])
        which = st.radio("Traces", ["this trace", f"all {len(page_ids)} on this page"],
                         horizontal=True, key="tr_add_which")
        expected = st.checkbox("Use the answer as the expected output", key="tr_add_expected")
        if not st.button("Add to dataset", key="tr_add", type="primary"):
            return
        ids = [trace_id] if which == "this trace" else page_ids
        out = call(client.cases_from_traces, target, ids, answer_as_expected=expected)
        if out is None:
            return
        skipped = len(out.get("skipped_trace_ids") or [])
        flash(f"Added {out['added']} case(s) to {by_id[target]['name']}"
              + (f"; {skipped} already there." if skipped else "."))
        st.rerun()


def main() -> None:
    st.title("🔎 Traces")
    show_flash()
    client = api()
    f = filters()
    cursor, cursors = page_cursor(f)
    try:
        answer = client.traces(cursor=cursor, limit=PAGE, **f)
    except EndpointMissing:
        st.info("This registry has no trace explorer (`GET /traces`).", icon="ℹ️")
        return
    except ApiError as exc:
        show_error(exc)
        return
    items = answer.get("items") or []
    if not items:
        st.info("No traces match." if len(cursors) == 1 else "No more traces.")
    else:
        st.caption(f"Page {len(cursors)} · {len(items)} traces, newest first")
        st.dataframe(to_frame(trace_rows(items)), hide_index=True, width="stretch")
    prev, nxt = st.columns(2)
    if len(cursors) > 1 and prev.button("‹ Newer", key="tr_newer"):
        cursors.pop()
        st.rerun()
    if answer.get("next_cursor") and nxt.button("Older ›", key="tr_older"):
        cursors.append(answer["next_cursor"])
        st.rerun()
    if not items:
        return
    ids = [t["id"] for t in items]
    by_id = {t["id"]: t for t in items}
    chosen = st.selectbox("Open a trace", ids, index=query_choice("trace", ids),
                          format_func=lambda i: trace_option(by_id[i]), key="tr_open")
    if st.query_params.get("trace") != chosen:
        st.query_params["trace"] = chosen
    show_trace(client, chosen)
    add_to_dataset(client, chosen, ids)


main()
