"""Compare: a run's pivot of prompt version × model (pass rate, score, latency p95, cost),
per-case regressions between two runs, and each version's trend over time; then activate
the version that earned it."""

from __future__ import annotations

from typing import Any

import altair as alt
import streamlit as st

from services.studio.api import StudioAPI
from services.studio.playground_runs import PLAYGROUND_DATASET
from services.studio.ui import activation_panel, api, call, need, pick_prompt, show_flash, to_frame
from services.studio.views.analysis import (
    CHANGE_LABELS,
    METRICS,
    best_cell,
    change_rows,
    comparison_rows,
    pivot_grid,
    pivot_long,
    trend_rows,
)
from services.studio.views.badges import pct, run_badge


def _run_label(r: dict[str, Any]) -> str:
    return (f"{run_badge(r['status'])} · {r['dataset_name']} · "
            f"{', '.join(t['label'] for t in r['targets'][:3])}"
            f"{' …' if len(r['targets']) > 3 else ''} · {str(r['requested_at'])[:16]}")


def pivot_section(client: StudioAPI, runs: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in runs]
    labels = {r["id"]: _run_label(r) for r in runs}
    wanted = st.query_params.get("run")
    run_id = st.selectbox("Run", ids, index=ids.index(wanted) if wanted in ids else 0,
                          format_func=labels.get, key="cmp_pivot_run")
    pivot = need(client.pivot, run_id)
    if not pivot.get("cells"):
        st.info("This run has no results yet.")
        return
    metric = st.radio("Show", list(METRICS), horizontal=True, key="cmp_metric",
                      format_func=lambda m: METRICS[m][0])
    st.dataframe(to_frame(pivot_grid(pivot, metric)), hide_index=True,
                 width="stretch")
    best = best_cell(pivot)
    if best:
        st.caption(f"Best: **{best['prompt']}** on **{best['model']}** — "
                   f"{pct(best['case_pass_rate'], 1)} of cases pass.")
    long = [r for r in pivot_long(pivot) if r[metric] is not None]
    if long and len(pivot["cells"]) > 1:
        chart = alt.Chart(to_frame(long)).mark_bar().encode(
            x=alt.X(f"{metric}:Q", title=METRICS[metric][0]),
            y=alt.Y("prompt version:N", title=None),
            color=alt.Color("model:N"), yOffset="model:N",
            tooltip=["prompt version", "model", alt.Tooltip(f"{metric}:Q", format=".3f")])
        st.altair_chart(chart, width="stretch")


def regressions_section(client: StudioAPI, runs: list[dict[str, Any]]) -> None:
    finished = [r for r in runs if r["status"] == "completed"]
    if len(finished) < 2:
        st.info("Two completed runs are needed to compare.")
        return
    ids = [r["id"] for r in finished]
    labels = {r["id"]: _run_label(r) for r in finished}
    by_id = {r["id"]: r for r in finished}
    left, right = st.columns(2)
    before = left.selectbox("Before", ids, index=1, format_func=labels.get, key="cmp_before")
    # only runs of the same dataset compare case by case: other datasets ask other questions
    dataset = by_id[before]["dataset_id"]
    same = [i for i in ids if i != before and by_id[i]["dataset_id"] == dataset]
    if not same:
        st.info(f"No other completed run on the dataset {by_id[before]['dataset_name']}: "
                "a comparison needs two runs of the same dataset.")
        return
    after = right.selectbox("After (same dataset)", same, format_func=labels.get,
                            key=f"cmp_after_{dataset}")
    pair = None
    b_targets = next(r for r in finished if r["id"] == before)["targets"]
    a_targets = next(r for r in finished if r["id"] == after)["targets"]
    if len(b_targets) > 1 or len(a_targets) > 1:
        bt = {t["target_id"]: t["label"] for t in b_targets}
        at = {t["target_id"]: t["label"] for t in a_targets}
        c1, c2 = st.columns(2)
        b = c1.selectbox("Before target", list(bt), format_func=bt.get, key="cmp_bt")
        a = c2.selectbox("After target", list(at), format_func=at.get, key="cmp_at")
        pair = f"{b}:{a}"
    comparison = call(client.compare, before, after, pair)
    if comparison is None:
        return
    for warning in comparison.get("warnings") or []:
        st.warning(warning, icon="⚠️")
    counts = comparison.get("counts", {})
    cols = st.columns(4)
    for col, kind in zip(cols, ("regressed", "fixed", "changed_output", "unchanged"),
                         strict=True):
        col.metric(CHANGE_LABELS[kind], counts.get(kind, 0))
    st.dataframe(to_frame(comparison_rows(comparison)), hide_index=True,
                 width="stretch")
    st.caption("Metric changes are after − before means; * marks a change whose 95% paired "
               "bootstrap interval excludes zero.")
    kinds = st.multiselect("Show cases", list(CHANGE_LABELS), default=["regressed", "fixed"],
                           format_func=CHANGE_LABELS.get, key="cmp_kinds")
    rows = change_rows(comparison, kinds)
    if rows:
        st.dataframe(to_frame(rows), hide_index=True, width="stretch")
    else:
        st.success("No case changed that way.")


def trend_section(client: StudioAPI) -> None:
    prompt = pick_prompt(client, "cmp_trend", search=False)
    if prompt is None:
        return
    points = need(client.trend, prompt["id"])
    playground = {r["id"] for ds in client.datasets(q=PLAYGROUND_DATASET)
                  if ds["name"] == PLAYGROUND_DATASET
                  for r in client.runs(dataset_id=ds["id"], limit=500)}
    rows = trend_rows(points, exclude_runs=playground)
    if not rows:
        st.info("No completed runs of this prompt yet.")
    else:
        metric = st.radio("Metric", ["cases passing", "results passing", "mean score"],
                          horizontal=True, key="cmp_trend_metric")
        chart = alt.Chart(to_frame(rows)).mark_line(point=True).encode(
            x=alt.X("at:T", title="run time"),
            y=alt.Y(f"{metric}:Q", title=metric,
                    scale=alt.Scale(domain=[0, 1]) if metric != "mean score" else
                    alt.Undefined),
            color=alt.Color("series:N", title="version · model"),
            tooltip=["series", "at:T", alt.Tooltip(f"{metric}:Q", format=".2f"), "results",
                     "run"])
        st.altair_chart(chart, width="stretch")
    st.markdown("#### Decide")
    prompt = need(client.prompt, prompt["id"])
    versions = need(client.versions, prompt["id"])
    numbers = [v["version"] for v in reversed(versions)]
    chosen = st.selectbox("Version to serve", numbers, key=f"cmp_activate_{prompt['id']}",
                          format_func=lambda n: f"v{n}" + (
                              " (active)" if n == prompt["active_version"] else ""))
    activation_panel(client, prompt, chosen, key=f"cmp_act_{prompt['id']}")


def main() -> None:
    st.title("📊 Compare")
    show_flash()
    client = api()
    runs = [r for r in need(client.runs, limit=200) if r["dataset_name"] != PLAYGROUND_DATASET]
    t_pivot, t_reg, t_trend = st.tabs(["Versions × models", "Regressions between runs",
                                       "Trend & decide"], key="cmp_tabs")
    with t_pivot:
        if runs:
            pivot_section(client, runs)
        else:
            st.info("No runs yet: start one on the Runs page.")
    with t_reg:
        regressions_section(client, runs)
    with t_trend:
        trend_section(client)


main()
