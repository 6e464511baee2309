"""Runs: start a run (dataset × prompt versions/applications × models), follow its
progress, read the results with Pass/Fail/Error badges and filters, and open a case."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.studio.api import StudioAPI
from services.studio.ui import api, call, need, query_choice, show_flash, to_frame
from services.studio.views.badges import pct, run_badge, short
from services.studio.views.content import as_text
from services.studio.views.results import (
    assertion_rows,
    result_key,
    result_rows,
    target_labels,
    target_summary_rows,
)
from services.studio.views.targets import (
    application_options,
    parse_models,
    run_body,
    version_options,
)

ACTIVE = ("queued", "running")
STARTED_KEY = "studio_started_run"  # the run this session started last


def start_form(client: StudioAPI) -> None:
    with st.expander("▶ Start a run", expanded=not st.query_params.get("run"),
                     key="start_run_box"):
        datasets = need(client.datasets)
        if not datasets:
            st.info("Create a dataset first (Datasets page).")
            return
        ds_names = {d["id"]: f"{d['name']} ({d['case_count']} cases, {d['dataset_type']})"
                    for d in datasets if d["case_count"]}
        prompts = need(client.prompts)
        chosen_prompts = st.multiselect("Prompts", [p["id"] for p in prompts],
                                        format_func={p["id"]: p["name"] for p in prompts}.get,
                                        key="run_prompts")
        options: dict[str, dict[str, Any]] = {}
        for p in prompts:
            if p["id"] in chosen_prompts:
                options.update(version_options(p, need(client.versions, p["id"])))
        options.update(application_options(need(client.applications)))
        with st.form("start_run"):
            dataset_id = st.selectbox("Dataset", list(ds_names), format_func=ds_names.get,
                                      key="run_dataset")
            picked = st.multiselect("Versions and applications", list(options),
                                    key="run_targets",
                                    help="Pick prompts above to list their versions.")
            models = st.text_input("Models for the prompt versions (comma separated)",
                                   value="echo", key="run_models",
                                   help="Blank: each version runs on its config's model.")
            c1, c2 = st.columns(2)
            repeat = c1.number_input("Repeat each case", 1, 100, 1, key="run_repeat")
            gate = c2.number_input("Minimum pass rate (%)", 0, 100, 100, key="run_gate",
                                   help="The run's verdict: pass when at least this share of "
                                        "cases pass.")
            description = st.text_input("Description", key="run_description")
            submitted = st.form_submit_button("Start run", type="primary")
        if submitted:
            try:
                body = run_body(dataset_id, [options[k] for k in picked], parse_models(models),
                                repeat=int(repeat), min_pass_rate=gate / 100,
                                description=description)
            except ValueError as exc:
                st.warning(str(exc))
                return
            run = call(client.start_run, body)
            if run:
                st.query_params["run"] = run["id"]
                # kept per run, not as a one-shot flash: the live progress reloads the
                # page when the run ends, which may happen before the first render is seen
                st.session_state[STARTED_KEY] = {"id": run["id"],
                                                 "expected": run["expected_results"]}
                st.rerun()


def run_picker(client: StudioAPI) -> str | None:
    runs = need(client.runs, limit=100)
    wanted = st.query_params.get("run")
    if not runs and not wanted:
        st.info("No runs yet.")
        return None
    ids = [r["id"] for r in runs]
    labels = {r["id"]: f"{run_badge(r['status'])} · {r['dataset_name']} · "
                       f"{', '.join(t['label'] for t in r['targets'][:3])}"
                       f"{' …' if len(r['targets']) > 3 else ''} · "
                       f"{str(r['requested_at'])[:19]}" for r in runs}
    if wanted and wanted not in ids:  # older than the list: still openable by link
        ids.insert(0, wanted)
        labels[wanted] = wanted
    chosen = st.selectbox("Run", ids, index=query_choice("run", ids), format_func=labels.get,
                          key="run_pick")
    if st.query_params.get("run") != chosen:
        st.query_params["run"] = chosen
    return chosen


def progress(run: dict[str, Any]) -> None:
    st.progress(min(1.0, run["progress"]),
                text=f"{run_badge(run['status'])} — {run['recorded']} of "
                     f"{run['expected_results']} results · ✅ {run['passed']} · ❌ "
                     f"{run['failed']} · ⚠️ {run['errors']}")


@st.fragment(run_every=1.0)
def live_progress(run_id: str) -> None:
    """Polls while the run is queued or running; reloads the page when it ends."""
    run = call(api().run, run_id)
    if run is None:
        return
    progress(run)
    if run["status"] not in ACTIVE:
        st.rerun()


def results_section(client: StudioAPI, run: dict[str, Any]) -> None:
    labels = target_labels(run)
    k = run["id"]
    c1, c2, c3, c4 = st.columns([1, 2, 2, 1])
    status = c1.selectbox("Result", ["all", "pass", "fail", "error"], key="res_status")
    targets = ["all", *labels]
    target = c2.selectbox("Target", targets, key=f"res_target_{k}",
                          format_func=lambda t: "all" if t == "all" else labels[t])
    text = c3.text_input("Case or output contains", key="res_text")
    size = c4.selectbox("Per page", [100, 500], key="res_size")
    filters = {"status": None if status == "all" else status,
               "target_id": None if target == "all" else target}
    page = int(st.session_state.get(f"res_page_{k}", 1))
    answer = need(client.results, run["id"], limit=size, offset=(page - 1) * size, **filters)
    total = answer["total"]
    pages = max(1, -(-total // size))
    if page > pages:  # the filters shrank the list under the page we were on
        st.session_state[f"res_page_{k}"] = page = 1
        answer = need(client.results, run["id"], limit=size, offset=0, **filters)
    if pages > 1:
        st.number_input(f"Page (of {pages}; {total} results)", 1, pages, key=f"res_page_{k}")
    items = answer["items"]
    if text:
        t = text.lower()
        items = [r for r in items if t in r["case_id"].lower()
                 or t in (r.get("case_preview") or "").lower()
                 or t in (r.get("output") or "").lower()]
    if not items:
        st.info("No results match." if total else "No results recorded yet.")
        return
    st.dataframe(to_frame(result_rows(items, labels)), hide_index=True,
                 width="stretch", height=min(600, 40 + 35 * len(items)),
                 column_config={"score": st.column_config.NumberColumn(format="%.2f")})
    st.markdown("#### Case detail")
    keys = [result_key(r, labels) for r in items]
    idx = st.selectbox("Result", range(len(items)), format_func=keys.__getitem__,
                       key=f"res_detail_{k}")
    case_detail(items[idx], labels)


def case_detail(r: dict[str, Any], labels: dict[str, str]) -> None:
    if r.get("case_preview"):
        st.text(f"Case: {r['case_preview']}")  # plain text: a case may contain markdown
    st.caption(f"case {r['case_id']} · {labels.get(r['target_id'], r['target_id'])} · model "
               f"{r.get('model') or '—'}" + (" · cached" if r.get("cached") else ""))
    if r.get("error"):
        st.error(r["error"])
    st.markdown(f"**Why:** {r.get('reason') or '—'}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Rendered prompt**")
        st.code(as_text(r.get("rendered_prompt") or ""), language=None, wrap_lines=True)
    with right:
        st.markdown("**Output**")
        st.code(r.get("output") or "", language=None, wrap_lines=True)
    rows = assertion_rows(r)
    if rows:
        st.markdown("**Assertions**")
        st.dataframe(to_frame(rows), hide_index=True, width="stretch")


def run_view(client: StudioAPI, run_id: str) -> None:
    run = need(client.run, run_id)
    started = st.session_state.get(STARTED_KEY)
    if started and started["id"] == run_id:
        st.success(f"Run started: {started['expected']} results to record.")
    st.subheader(f"{run['dataset_name']} — {run_badge(run['status'])}")
    st.caption(f"requested by {run.get('requested_by') or '—'} at "
               f"{str(run['requested_at'])[:19]} · {run['case_count']} cases × "
               f"{len(run['targets'])} targets × repeat {run['config'].get('repeat', 1)}"
               + (f" · {short(run['description'], 80)}" if run.get("description") else ""))
    if run["status"] in ACTIVE:
        live_progress(run_id)
        if st.button("Cancel run", key="run_cancel"):
            if call(client.cancel_run, run_id, "cancelled in the studio"):
                st.rerun()
    else:
        progress(run)
    if run.get("reason"):
        st.warning(run["reason"])
    summary = run.get("summary")
    if summary:
        verdict = summary.get("verdict")
        st.markdown(f"**Verdict:** {'✅ pass' if verdict == 'pass' else '❌ fail'} — "
                    f"{pct(summary['total'].get('case_pass_rate'), 1)} of cases pass "
                    f"(needs {pct(summary.get('threshold') or 1.0)})")
        st.dataframe(to_frame(target_summary_rows(summary)), hide_index=True,
                     width="stretch")
    results_section(client, run)


def main() -> None:
    st.title("▶️ Runs")
    show_flash()
    client = api()
    start_form(client)
    run_id = run_picker(client)
    if run_id:
        run_view(client, run_id)


main()
