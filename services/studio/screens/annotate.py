"""Annotate: work an annotation queue one item at a time. The oldest pending item (a
trace, masked, or a run result with its case) comes up with one field per score the queue
asks for; "Save and next" records the scores as the signed-in key, completes the item and
brings the next one."""

from __future__ import annotations

import json

import streamlit as st

from services.studio.api import ApiError, EndpointMissing, StudioAPI
from services.studio.ui import api, call, flash, query_choice, show_error, show_flash
from services.studio.views.annotate import progress_caption, result_lines, score_value, widget_of
from services.studio.views.traces import model_label


def show_item(item: dict) -> None:
    if item["kind"] == "trace":
        t = item.get("trace")
        if t is None:
            st.warning("This trace is no longer stored (past the retention).")
            return
        st.caption(f"Trace {item['trace_id']} · {str(t.get('created_at'))[:19]} · model "
                   f"{model_label(t)} · application {t.get('application') or '—'}")
        left, right = st.columns(2)
        left.markdown("**Request** (masked)")
        left.code(json.dumps(t.get("request"), indent=2, ensure_ascii=False), language="json")
        right.markdown("**Response** (masked)")
        right.code(json.dumps(t.get("response"), indent=2, ensure_ascii=False),
                   language="json")
        return
    r = item.get("result")
    if r is None:
        st.warning("This result is no longer stored.")
        return
    st.caption(f"Run {item['run_id']} · case {r.get('case_id')} · target {r.get('target_id')}")
    for label, value in result_lines(r):
        st.markdown(f"**{label}**")
        st.code(value if isinstance(value, str) else json.dumps(value, indent=2,
                                                                 ensure_ascii=False))


def score_fields(configs: dict[str, dict], names: list[str], item_id: str) -> dict[str, object]:
    raw: dict[str, object] = {}
    for name in names:
        config = configs.get(name)
        if config is None:
            st.warning(f"Score config {name!r} is missing.")
            continue
        kind, options = widget_of(config)
        key = f"an_{item_id}_{name}"
        if kind == "number":
            raw[name] = st.number_input(name, key=key, **options)
        else:
            raw[name] = st.radio(name, options["options"], horizontal=True, key=key)
    return raw


def save(client: StudioAPI, item: dict, configs: dict[str, dict], raw: dict[str, object],
         comment: str, queue_id: str) -> bool:
    for name, value in raw.items():
        v = score_value(configs[name], value)
        if item["kind"] == "trace":
            done = call(client.score_trace, item["trace_id"], name, v, comment)
        else:
            done = call(client.score_result, item["run_id"], item["result_id"], name, v,
                        comment)
        if done is None:
            return False
    return call(client.complete_item, queue_id, item["item_id"]) is not None


def main() -> None:
    st.title("🏷️ Annotate")
    show_flash()
    client = api()
    try:
        queues = client.queues()
    except EndpointMissing:
        st.info("This registry has no annotation queues (`/queues`).", icon="ℹ️")
        return
    except ApiError as exc:
        show_error(exc)
        return
    if not queues:
        st.info("No annotation queue yet: create one with `POST /queues` and add traces or "
                "run results to it.")
        return
    by_id = {q["id"]: q for q in queues}
    ids = list(by_id)
    chosen = st.selectbox("Queue", ids, index=query_choice("queue", ids), key="an_queue",
                          format_func=lambda i: by_id[i]["name"])
    if st.query_params.get("queue") != chosen:
        st.query_params["queue"] = chosen
    nxt = call(client.next_item, chosen)
    queue = (nxt or {}).get("queue") or by_id[chosen]
    st.progress(queue.get("progress", 1.0))
    st.caption(progress_caption(queue))
    if nxt is None:
        if queue.get("pending", 0) == 0:
            st.success("Every item of this queue is done.", icon="🎉")
        return
    item = nxt["item"]
    show_item(item)
    configs = {c["name"]: c for c in call(client.score_configs) or []}
    # a form of the item's own: its fields start blank for each item (the browser would
    # otherwise show the last item's values in the fields at the same place) and the
    # page does not rerun on every field
    with st.form(f"an_form_{item['item_id']}", border=False):
        st.markdown("**Your scores**")
        raw = score_fields(configs, queue.get("score_names") or [], item["item_id"])
        comment = st.text_area("Comment", key=f"an_{item['item_id']}_comment")
        submitted = st.form_submit_button("Save and next", key="an_save", type="primary")
    if submitted and save(client, item, configs, raw, comment, chosen):
        flash(f"Saved {len(raw)} score(s).")
        st.rerun()


main()
