"""Playground: pick a prompt version (or an application) and a model, fill the variables,
run once, and see the output with tokens, cost and latency (see ``playground_runs``)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.studio.api import ApiError, StudioAPI
from services.studio.playground_runs import run_once
from services.studio.ui import api, call, need, pick_prompt, show_error, to_frame
from services.studio.views.badges import ms, result_badge, usd
from services.studio.views.content import as_text, parse_value
from services.studio.views.results import assertion_rows


def choose_target(client: StudioAPI) -> tuple[dict[str, Any], list[str], str | None,
                                             dict[str, Any]] | None:
    """(target spec, variables, model, render args) from the pickers."""
    kind = st.radio("Run", ["prompt", "application"], horizontal=True, key="pg_kind",
                    format_func=lambda k: {"prompt": "a prompt version",
                                           "application": "an application"}[k])
    if kind == "prompt":
        prompt = pick_prompt(client, "pg", search=False)
        if prompt is None:
            return None
        versions = need(client.versions, prompt["id"])
        numbers = [v["version"] for v in reversed(versions)]
        active = prompt.get("active_version")
        n = st.selectbox("Version", numbers, key=f"pg_version_{prompt['id']}",
                         index=numbers.index(active) if active in numbers else 0,
                         format_func=lambda x: f"v{x}" + (" (active)" if x == active else ""))
        version = next(v for v in versions if v["version"] == n)
        model = st.text_input("Model", value="echo", key="pg_model",
                              help="Any LiteLLM model id (provider keys come from the "
                                   "server's environment); `echo` answers offline with the "
                                   "rendered prompt.").strip()
        return ({"prompt_id": prompt["id"], "version": n}, version["variables"], model or None,
                {"prompt_id": prompt["id"], "version": n})
    apps = need(client.applications)
    if not apps:
        st.info("No applications yet.")
        return None
    names = {a["id"]: f"{a['name']} ({a.get('model_id') or 'its version config model'})"
             for a in apps}
    app_id = st.selectbox("Application", list(names), format_func=names.get, key="pg_app")
    resolved = need(client.resolved, app_id)
    st.caption(f"runs {resolved['prompt_name']} v{resolved['version']} on "
               f"{resolved['model']} with {resolved['params']}")
    model = st.text_input("Model (blank: the application's)", key="pg_app_model").strip()
    return ({"application_id": app_id}, resolved["variables"], model or None,
            {"prompt_id": resolved["prompt_id"], "version": resolved["version"]})


def show_result(run: dict[str, Any], result: dict[str, Any]) -> None:
    st.markdown(f"**{result_badge(result['status'])}** · run `{run['id']}`")
    cols = st.columns(4)
    cols[0].metric("Latency", ms(result.get("latency_ms")))
    cols[1].metric("Tokens in / out", f"{result.get('prompt_tokens') or 0} / "
                                      f"{result.get('completion_tokens') or 0}")
    cols[2].metric("Cost", usd(result.get("cost_usd")))
    cols[3].metric("Model", result.get("model") or "—")
    if result.get("error"):
        st.error(result["error"])
    st.markdown("**Output**")
    st.code(result.get("output") or "", language=None, wrap_lines=True)
    rows = assertion_rows(result)
    if rows:
        st.dataframe(to_frame(rows), hide_index=True, width="stretch")


def main() -> None:
    st.title("🧪 Playground")
    client = api()
    picked = choose_target(client)
    if picked is None:
        return
    target, variables, model, render_args = picked
    with st.form("pg_form"):
        st.markdown("**Variables**" if variables else "This prompt has no variables.")
        values = {v: st.text_area(v, key=f"pg_var_{v}", height=80) for v in variables}
        go = st.form_submit_button("▶ Run", type="primary")
    if not go:
        return
    bound = {k: parse_value(v) for k, v in values.items()}
    rendered = call(client.render, render_args["prompt_id"], bound, render_args["version"])
    if rendered is None:
        return
    with st.expander("Rendered prompt", expanded=False):
        st.code(as_text(rendered["rendered"]), language=None, wrap_lines=True)
    with st.spinner("Running…"):
        try:
            run, result = run_once(client, target, model, bound)
        except ApiError as exc:
            show_error(exc)
            return
        except TimeoutError as exc:
            st.warning(str(exc))
            return
    show_result(run, result)


main()
