"""Evaluators: online evaluation of live traffic. The list (status, what each scores with,
which traffic, the sampling rate), one evaluator opened: pause or resume it, change it, and
see how its scores agree with people's; a form to create one; score alerts on the rolling
mean of a score. Everything goes through the registry's REST API."""

from __future__ import annotations

import streamlit as st

from services.studio.api import ApiError, EndpointMissing, StudioAPI
from services.studio.ui import (
    api,
    call,
    fired_table,
    flash,
    query_choice,
    show_error,
    show_flash,
    to_frame,
)
from services.studio.views.evaluators import (
    ASSERTION_TYPES,
    TRAFFIC_FIELDS,
    agreement_metrics,
    assertion_of,
    confusion_rows,
    evaluator_rows,
    score_alert_rows,
    score_firing_rows,
    traffic_of,
)

SOURCES = ["", "gateway", "runner", "generator"]


def traffic_fields(prefix: str, current: dict | None = None) -> dict[str, str]:
    current = current or {}
    cols = st.columns(len(TRAFFIC_FIELDS))
    out = {}
    for col, field in zip(cols, TRAFFIC_FIELDS, strict=True):
        if field == "source":
            value = current.get(field) or ""
            out[field] = col.selectbox("source", SOURCES, index=SOURCES.index(value)
                                       if value in SOURCES else 0, key=f"{prefix}_source",
                                       format_func=lambda s: s or "any")
        else:
            out[field] = col.text_input(field.replace("_", " "), value=current.get(field, ""),
                                        key=f"{prefix}_{field}", placeholder="any")
    return out


def new_evaluator_form(client: StudioAPI) -> None:
    with st.expander("➕ New evaluator"), st.form("new_evaluator"):
        c1, c2 = st.columns(2)
        name = c1.text_input("Name (the score's name)", key="ev_new_name")
        kind = c2.radio("Scores with", ["assertion", "metric"], horizontal=True,
                        key="ev_new_kind")
        c1, c2 = st.columns([1, 2])
        atype = c1.selectbox("Assertion", ASSERTION_TYPES, key="ev_new_type")
        value = c2.text_input("Assertion value (a rubric, a text, a pattern)",
                              key="ev_new_value")
        metric = st.text_input("Ragas metric (needing no reference)",
                               value="answer_relevancy", key="ev_new_metric")
        st.markdown("**Traffic** (blank: any)")
        traffic = traffic_fields("ev_new")
        c1, c2, c3 = st.columns(3)
        rate = c1.slider("Sampling rate", 0.0, 1.0, 1.0, 0.05, key="ev_new_rate")
        judge = c2.text_input("Judge model", key="ev_new_judge", placeholder="default")
        human = c3.text_input("Compare with people's score", key="ev_new_human",
                              placeholder="a score config's name")
        if st.form_submit_button("Create evaluator"):
            body = {"name": name.strip(), "traffic": traffic_of(traffic),
                    "sampling_rate": rate, "judge_model": judge.strip() or None,
                    "human_score": human.strip() or None}
            if kind == "assertion":
                body["assertion"] = assertion_of(atype, value)
            else:
                body["metric"] = metric.strip()
            created = call(client.create_evaluator, body)
            if created:
                st.query_params["evaluator"] = created["id"]
                flash(f"Evaluator {created['name']} created: it scores "
                      f"{round(rate * 100)}% of the traffic it selects.")
                st.rerun()


def edit_form(client: StudioAPI, ev: dict) -> None:
    prefix = f"ev_edit_{ev['id']}"  # per evaluator: another one opened shows its own values
    with st.expander("✏️ Change"), st.form(prefix):
        traffic = traffic_fields(prefix, ev.get("traffic"))
        c1, c2, c3 = st.columns(3)
        rate = c1.slider("Sampling rate", 0.0, 1.0, float(ev["sampling_rate"]), 0.05,
                         key=f"{prefix}_rate")
        judge = c2.text_input("Judge model", value=ev.get("judge_model") or "",
                              key=f"{prefix}_judge", placeholder="default")
        human = c3.text_input("Compare with people's score",
                              value=ev.get("human_score") or "",
                              key=f"{prefix}_human")
        description = st.text_area("Description", value=ev.get("description") or "",
                                   key=f"{prefix}_description")
        if st.form_submit_button("Save changes"):
            changed = call(client.change_evaluator, ev["id"], traffic=traffic_of(traffic),
                           sampling_rate=rate, judge_model=judge.strip() or None,
                           human_score=human.strip() or None, description=description)
            if changed:
                flash(f"Evaluator {changed['name']} saved.")
                st.rerun()


def agreement_section(client: StudioAPI, ev: dict) -> None:
    st.markdown("**Agreement with people**")
    human = st.text_input("People's score", value=ev.get("human_score") or "",
                          key=f"ev_agree_{ev['id']}", placeholder="a score config's name")
    if not human.strip():
        st.caption("Name a people's score (or set one on the evaluator) to see how the "
                   "judge agrees with them on the traces both scored.")
        return
    a = call(client.agreement, ev["id"], human.strip())
    if a is None:
        return
    figures = agreement_metrics(a)
    for col, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
        col.metric(label, value)
    confusion = confusion_rows(a)
    if confusion:
        st.dataframe(to_frame(confusion), hide_index=True)
    if a.get("note"):
        st.caption(a["note"])


def evaluator_detail(client: StudioAPI, ev: dict) -> None:
    paused = ev["status"] == "paused"
    c1, c2 = st.columns([3, 1])
    c1.caption(f"{ev['id']} · created by {ev.get('created_by') or '—'} · "
               f"{ev.get('description') or 'no description'}")
    if c2.button("▶️ Resume" if paused else "⏸️ Pause", key="ev_toggle"):
        changed = call(client.change_evaluator, ev["id"],
                       status="active" if paused else "paused")
        if changed:
            flash(f"Evaluator {ev['name']} {'resumed' if paused else 'paused'}.")
            st.rerun()
    edit_form(client, ev)
    agreement_section(client, ev)


def score_alerts_section(client: StudioAPI) -> None:
    st.markdown("### Score alerts")
    alerts = call(client.score_alerts)
    if alerts is None:
        return
    if alerts:
        st.dataframe(to_frame(score_alert_rows(alerts)), hide_index=True, width="stretch")
        names = {a["id"]: a.get("name") or a["score_name"] for a in alerts}
        c1, c2 = st.columns([3, 1])
        gone = c1.selectbox("Alert", list(names), format_func=names.get, key="sa_pick",
                            label_visibility="collapsed")
        if c2.button("🗑️ Delete alert", key="sa_delete"):
            try:
                client.delete_score_alert(gone)
            except ApiError as exc:
                show_error(exc)
            else:
                flash(f"Score alert {names[gone]} deleted.")
                st.rerun()
    else:
        st.info("No score alerts configured.")
    fired_table(call(client.score_alert_firings) or [], score_firing_rows)
    with st.expander("➕ New score alert"), st.form("new_score_alert"):
        c1, c2, c3 = st.columns(3)
        score = c1.text_input("Score name", key="sa_score")
        threshold = c2.number_input("Fire when the mean is below", value=0.5, step=0.05,
                                    key="sa_threshold")
        period = c3.selectbox("At most once per", ["day", "hour"], key="sa_period")
        c1, c2, c3 = st.columns(3)
        window = c1.number_input("Window (minutes)", min_value=1, value=60, key="sa_window")
        min_scores = c2.number_input("At least this many scores", min_value=1, value=5,
                                     key="sa_min")
        model = c3.text_input("Model (optional)", key="sa_model")
        c1, c2 = st.columns(2)
        name = c1.text_input("Name", key="sa_name")
        webhook = c2.text_input("Webhook URL (optional)", key="sa_webhook")
        if st.form_submit_button("Create score alert"):
            created = call(client.create_score_alert, {
                "score_name": score.strip(), "threshold": threshold, "period": period,
                "window_minutes": int(window), "min_scores": int(min_scores),
                "model": model.strip() or None, "name": name.strip() or None,
                "webhook_url": webhook.strip() or None})
            if created:
                flash(f"Score alert created: {created.get('name') or created['score_name']} "
                      f"below {threshold:g}.")
                st.rerun()


def main() -> None:
    st.title("🧑‍⚖️ Evaluators")
    show_flash()
    client = api()
    try:
        evaluators = client.evaluators()
    except EndpointMissing:
        st.info("This server has no online evaluation (no `/evaluators`).", icon="ℹ️")
        return
    except ApiError as exc:
        show_error(exc)
        return
    if evaluators:
        st.dataframe(to_frame(evaluator_rows(evaluators)), hide_index=True, width="stretch")
        ids = [e["id"] for e in evaluators]
        names = {e["id"]: e["name"] for e in evaluators}
        chosen = st.selectbox("Open", ids, index=query_choice("evaluator", ids),
                              format_func=lambda i: names[i], key="ev_pick")
        if st.query_params.get("evaluator") != chosen:
            st.query_params["evaluator"] = chosen
        evaluator_detail(client, next(e for e in evaluators if e["id"] == chosen))
    else:
        st.info("No evaluators yet: create one to score live traffic.")
    new_evaluator_form(client)
    score_alerts_section(client)


main()
