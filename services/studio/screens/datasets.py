"""Datasets: create one, import CSV/JSON/JSONL (preview first, refused rows shown), edit
cases in a table, review and verify (golden vs evaluation badges)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.studio.api import ApiError, EndpointMissing, StudioAPI
from services.studio.ui import (
    api,
    call,
    flash,
    need,
    query_choice,
    show_error,
    show_flash,
    to_frame,
)
from services.studio.views.badges import dataset_badges, dataset_type_badge
from services.studio.views.cases import case_rows, edits_from_rows, variable_columns
from services.studio.views.imports import error_rows, preview_upload
from services.studio.views.review import (
    DECISIONS,
    cancellable,
    decisions_from_rows,
    generation_rows,
    rejected_rows,
    review_rows,
)

PAGE_SIZE = 100


def create_form(client: StudioAPI) -> None:
    with st.expander("➕ New dataset", key="new_ds_box"):
        with st.form("new_dataset"):
            name = st.text_input("Name", key="new_ds_name")
            description = st.text_input("Description", key="new_ds_description")
            dtype = st.radio("Type", ["evaluation", "golden"], horizontal=True,
                             key="new_ds_type", format_func=dataset_type_badge,
                             help="Golden: small and verified by a person; it can gate a "
                                  "release. Evaluation: large, for measuring.")
            if st.form_submit_button("Create dataset", type="primary"):
                if not name.strip():
                    st.warning("Give the dataset a name.")
                    return
                ds = call(client.create_dataset, name.strip(), description, dtype)
                if ds:
                    st.query_params["dataset"] = ds["id"]
                    flash(f"Created {ds['name']}. Add cases or import a file below.")
                    st.rerun()


def cases_tab(client: StudioAPI, ds: dict[str, Any]) -> None:
    pages = max(1, -(-ds["case_count"] // PAGE_SIZE))
    page = st.number_input(f"Page (of {pages}, {PAGE_SIZE} cases each)", 1, pages, 1,
                           key=f"cases_page_{ds['id']}") if pages > 1 else 1
    answer = need(client.cases, ds["id"], limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    cases = answer["items"]
    variables = variable_columns(cases)
    extra = st.text_input("Add a variable column", key=f"cases_newvar_{ds['id']}",
                          placeholder="name, then press Enter").strip()
    if extra and extra not in variables:
        variables.append(extra)
    st.caption("Edit cells, add rows at the bottom, select rows and delete them; then save. "
               "Any change clears the dataset's verification.")
    edited = st.data_editor(
        to_frame(case_rows(cases, variables)) if cases else
        to_frame([{"id": None, **{v: "" for v in variables}, "expected_output": "",
                   "description": "", "assertions": ""}]).iloc[0:0],
        num_rows="dynamic", width="stretch", key=f"cases_editor_{ds['id']}_{page}",
        column_config={"id": st.column_config.TextColumn("id", disabled=True, width="small"),
                       "assertions": st.column_config.TextColumn(
                           "assertions", disabled=True,
                           help="set by import or the API; kept as they are")},
        hide_index=True)
    edits = edits_from_rows(cases, edited.to_dict("records"), variables)
    if st.button(f"Save changes ({edits.summary()})", key=f"cases_save_{ds['id']}",
                 disabled=edits.empty, type="primary"):
        try:
            for case_id, changes in edits.updates:
                client.update_case(ds["id"], case_id, **changes)
            if edits.additions:
                client.add_cases(ds["id"], edits.additions)
            for case_id in edits.removals:
                client.remove_case(ds["id"], case_id)
        except ApiError as exc:
            st.error(exc.message + " — the changes before this one were saved.", icon="🚫")
            return
        flash(f"Saved: {edits.summary()}.")
        st.rerun()


def import_tab(client: StudioAPI, ds: dict[str, Any]) -> None:
    st.caption("CSV follows promptfoo's conventions: each column is a variable; "
               "`expected_output`, `__expected` (assertions), `__description`, "
               "`__threshold`. JSON is a list of cases (or {\"cases\": [...]}); JSONL one case "
               "per line. All or nothing: a bad row adds nothing.")
    upload = st.file_uploader("File", type=["csv", "json", "jsonl"],
                              key=f"import_file_{ds['id']}")
    if upload is None:
        return
    data = upload.getvalue()
    preview = preview_upload(upload.name, data)
    if preview.problem:
        st.error(preview.problem)
        return
    st.markdown(f"**Preview** — {preview.total_rows} rows ({preview.format.upper()}), "
                f"showing the first {len(preview.rows)}")
    if preview.columns:
        st.dataframe(to_frame([{"column": c, "becomes": role} for c, role in preview.columns]),
                     hide_index=True)
    st.dataframe(to_frame(preview.rows), hide_index=True, width="stretch")
    if st.button(f"Import {preview.total_rows} rows", key=f"import_go_{ds['id']}",
                 type="primary"):
        try:
            out = client.import_file(ds["id"], upload.name, data)
        except ApiError as exc:
            st.error(exc.message, icon="🚫")
            rows = error_rows(exc.problem)
            if rows:
                total = exc.problem.get("total_errors", len(rows))
                st.markdown(f"**{total} problem(s)** — fix them in the file and import again:")
                st.dataframe(to_frame(rows), hide_index=True, width="stretch")
            return
        flash(f"Imported {out['imported']} cases; the dataset has {out['case_count']}.")
        st.rerun()


def review_tab(client: StudioAPI, ds: dict[str, Any], datasets: list[dict[str, Any]]) -> None:
    st.markdown(dataset_badges(ds))
    if ds.get("is_verified"):
        st.success(f"Verified by {ds.get('verified_by') or '—'} at {ds.get('verified_at')}. "
                   "Any change to the cases clears this.")
    try:
        queue = client.review_queue(ds["id"], limit=PAGE_SIZE)
    except EndpointMissing:
        queue = None  # an older registry: no generated-case review, plain reading below
    except ApiError as exc:
        show_error(exc)
        return
    if queue is not None:
        generated_review(client, ds, queue)
        rejected_cases(client, ds)
        promote_accepted(client, ds, datasets)
    cases = need(client.cases, ds["id"], limit=PAGE_SIZE)
    with st.expander(f"Read the cases ({cases['total']})", key=f"review_read_{ds['id']}"):
        for c in cases["items"]:
            meta = c.get("metadata") or {}
            st.json({"input": c["input"], "expected_output": c.get("expected_output"),
                     **({"assert": c["assert"]} if c.get("assert") else {}),
                     **({"metadata": meta} if meta else {})}, expanded=False)
        if cases["total"] > PAGE_SIZE:
            st.caption(f"Showing {PAGE_SIZE} of {cases['total']}; the Cases tab pages "
                       "through all of them.")
    st.markdown("#### Verify")
    note = st.text_input("Review note", key=f"verify_note_{ds['id']}",
                         placeholder="what you checked")
    confirm = st.checkbox("I read these cases and they are right", key=f"verify_ok_{ds['id']}")
    if st.button("Verify dataset", key=f"verify_go_{ds['id']}", disabled=not confirm,
                 type="primary"):
        if call(client.verify, ds["id"], note) is not None:
            flash(f"{ds['name']} is verified.")
            st.rerun()


def generated_review(client: StudioAPI, ds: dict[str, Any], queue: dict[str, Any]) -> None:
    generations = call(client.generations, ds["id"]) or []
    if generations:
        st.markdown("#### Generations")
        st.dataframe(to_frame(generation_rows(generations)), hide_index=True)
        for generation_id, label in cancellable(generations):
            if st.button(label, key=f"gen_cancel_{generation_id}"):
                out = call(client.cancel_generation, generation_id, "cancelled in the studio")
                if out:
                    flash(f"Cancelled the generation; the {out['generated']} case(s) it made "
                          "stay for review.")
                    st.rerun()
    pending = queue["items"]
    st.markdown(f"#### Generated cases to review ({queue['total']})")
    if not pending:
        st.caption("Nothing waits for review.")
        return
    st.caption("Read each question and answer; fix the answer if needed, then choose accept "
               "or reject. Rejected cases leave the dataset; they stay readable under "
               "Rejected cases, and the decision stays in its history.")
    edited = st.data_editor(
        to_frame(review_rows(pending)), hide_index=True, key=f"review_editor_{ds['id']}",
        column_config={
            "id": st.column_config.TextColumn("id", disabled=True, width="small"),
            "question": st.column_config.TextColumn("question", disabled=True),
            "kind": st.column_config.TextColumn("kind", disabled=True, width="small"),
            "source": st.column_config.TextColumn("source", disabled=True),
            "decision": st.column_config.SelectboxColumn("decision", options=list(DECISIONS)),
        })
    decisions = decisions_from_rows(pending, edited.to_dict("records"))
    accept_all = st.checkbox("Accept every case shown that has no decision",
                             key=f"review_all_{ds['id']}")
    if accept_all:
        decided = {d["case_id"] for d in decisions}
        decisions += [{"case_id": c["id"], "decision": "accept", "note": ""}
                      for c in pending if c["id"] not in decided]
    if st.button(f"Record {len(decisions)} decision(s)", key=f"review_go_{ds['id']}",
                 disabled=not decisions, type="primary"):
        out = call(client.review, ds["id"], decisions)
        if out:
            flash(f"Accepted {out['accepted']}, rejected {out['rejected']}; "
                  f"{out['pending']} still to review.")
            st.rerun()


def rejected_cases(client: StudioAPI, ds: dict[str, Any]) -> None:
    rejected = call(client.review_queue, ds["id"], "rejected", limit=PAGE_SIZE)
    if not rejected or not rejected["total"]:
        return
    with st.expander(f"Rejected cases ({rejected['total']})", key=f"rejected_{ds['id']}"):
        st.caption("Cases a reviewer turned down: no longer in the dataset, kept here as "
                   "they were, with the reviewer's note.")
        st.dataframe(to_frame(rejected_rows(rejected["items"])), hide_index=True)
        if rejected["total"] > PAGE_SIZE:
            st.caption(f"Showing the first {PAGE_SIZE} of {rejected['total']}.")


def promote_accepted(client: StudioAPI, ds: dict[str, Any],
                     datasets: list[dict[str, Any]]) -> None:
    accepted = call(client.review_queue, ds["id"], "accepted", limit=500)
    goldens = {d["id"]: d["name"] for d in datasets
               if d["dataset_type"] == "golden" and d["id"] != ds["id"]}
    if not accepted or not accepted["items"] or not goldens:
        return
    st.markdown(f"#### Promote accepted cases ({accepted['total']}) into a golden dataset")
    target = st.selectbox("Golden dataset", list(goldens), format_func=goldens.get,
                          key=f"promote_to_{ds['id']}")
    ids = [c["id"] for c in accepted["items"]]
    if st.button(f"Promote {len(ids)} case(s)", key=f"promote_go_{ds['id']}"):
        out = call(client.promote, target, ds["id"], ids)
        if out:
            flash(f"Promoted {len(out['promoted'])} case(s) into {goldens[target]}"
                  + (f"; {len(out['already_present'])} were already there"
                     if out["already_present"] else "") + ". It needs verifying again.")
            st.rerun()


def settings_tab(client: StudioAPI, ds: dict[str, Any]) -> None:
    types = ["evaluation", "golden"]
    dtype = st.radio("Type", types, index=types.index(ds["dataset_type"]), horizontal=True,
                     key=f"ds_type_{ds['id']}", format_func=dataset_type_badge)
    description = st.text_input("Description", value=ds.get("description") or "",
                                key=f"ds_desc_{ds['id']}")
    if st.button("Save", key=f"ds_save_{ds['id']}"):
        changed = call(client.update_dataset, ds["id"], dataset_type=dtype,
                       description=description)
        if changed:
            flash("Saved.")
            st.rerun()


def main() -> None:
    st.title("🗂️ Datasets")
    show_flash()
    client = api()
    create_form(client)
    left, right = st.columns([3, 1])
    q = left.text_input("Search datasets", key="ds_q")
    kind = right.selectbox("Type", ["all", "golden", "evaluation"], key="ds_kind")
    datasets = need(client.datasets, q or None, None if kind == "all" else kind)
    if not datasets:
        st.info("No datasets yet: create one above.")
        return
    st.dataframe(to_frame([{"dataset": d["name"], "type": dataset_type_badge(d["dataset_type"]),
                            "verified": "✔" if d["is_verified"] else "",
                            "cases": d["case_count"], "updated": d["updated_at"]}
                           for d in datasets]), hide_index=True, width="stretch",
                 height=min(400, 40 + 35 * len(datasets)))
    ids = [d["id"] for d in datasets]
    names = {d["id"]: d["name"] for d in datasets}
    chosen = st.selectbox("Dataset", ids, index=query_choice("dataset", ids),
                          format_func=names.get, key="ds_pick")
    if st.query_params.get("dataset") != chosen:
        st.query_params["dataset"] = chosen
    ds = need(client.dataset, chosen)
    st.subheader(ds["name"])
    st.caption(dataset_badges(ds) + f" · {ds['case_count']} cases")
    t_cases, t_import, t_review, t_settings = st.tabs(
        ["Cases", "Import", "Review & verify", "Settings"], key=f"ds_tabs_{ds['id']}")
    with t_cases:
        cases_tab(client, ds)
    with t_import:
        import_tab(client, ds)
    with t_review:
        review_tab(client, ds, datasets)
    with t_settings:
        settings_tab(client, ds)


main()
