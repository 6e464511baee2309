"""Prompts: find a prompt, read its versions and diffs, edit into a new version, activate or
roll back (with a reason and a confirmation), and read its history."""

from __future__ import annotations

from typing import Any

import streamlit as st

from services.studio.api import StudioAPI
from services.studio.ui import (
    activation_panel,
    api,
    call,
    flash,
    need,
    pick_prompt,
    show_flash,
    to_frame,
)
from services.studio.views.content import (
    ROLES,
    as_text,
    content_from_editor,
    is_chat,
    message_rows,
    references_caption,
    variables_in,
)
from services.studio.views.diffs import (
    config_from_editor,
    config_text,
    config_unified,
    describe_diff,
    unified,
)
from services.studio.views.environments import environment_rows
from services.studio.views.timeline import timeline_rows


def content_editor(key: str, content: Any, *, chat_default: bool | None = None) -> Any:
    """Text area or chat-message table; returns the draft (or raises ValueError)."""
    chat = is_chat(content) if chat_default is None else chat_default
    mode = st.radio("Format", ["text", "chat"], index=1 if chat else 0, horizontal=True,
                    key=f"{key}_mode", format_func=lambda m: {"text": "Text template",
                                                             "chat": "Chat messages"}[m],
                    help="Write {{ variable }} where a value should be filled in.")
    if mode == "text":
        text = st.text_area("Template", value=as_text(content), height=220, key=f"{key}_text")
        return lambda: content_from_editor("text", text, [])
    rows = st.data_editor(
        message_rows(content), num_rows="dynamic", width="stretch", key=f"{key}_chat",
        column_config={"role": st.column_config.SelectboxColumn("role", options=list(ROLES),
                                                               required=True, width="small"),
                       "content": st.column_config.TextColumn("content", width="large")})
    return lambda: content_from_editor("chat", "", list(rows))


def show_content(content: Any) -> None:
    if is_chat(content):
        for m in content:
            st.markdown(f"**{m.get('role')}**")
            st.code(m.get("content", ""), language=None, wrap_lines=True)
    else:
        st.code(content, language=None, wrap_lines=True)


def show_config(config: dict[str, Any]) -> None:
    """The version's model config (model, options, tools, response format)."""
    if not config:
        st.caption("No model config: the application's settings, else the defaults, apply.")
        return
    summary = ", ".join(f"{k}={config[k]}" for k in ("model", "temperature", "max_tokens")
                        if k in config)
    extras = [k for k in ("tools", "tool_choice", "response_format") if k in config]
    st.markdown("**Model config**" + (f" — {summary}" if summary else "")
                + (f" · {', '.join(extras)}" if extras else ""))
    st.code(config_text(config), language="json")


def new_prompt_form(client: StudioAPI) -> None:
    with st.expander("➕ New prompt", key="new_prompt_box"):
        name = st.text_input("Name", key="new_prompt_name", placeholder="support-reply")
        description = st.text_input("Description", key="new_prompt_description")
        draft = content_editor("new_prompt", [{"role": "system", "content": ""},
                                              {"role": "user", "content": ""}],
                               chat_default=False)
        if st.button("Create prompt", key="new_prompt_create", type="primary"):
            try:
                content = draft()
            except ValueError as exc:
                st.warning(str(exc))
                return
            if not name.strip():
                st.warning("Give the prompt a name.")
                return
            created = call(client.create_prompt, name.strip(), content, description)
            if created:
                st.query_params["prompt"] = created["id"]
                flash(f"Created {created['name']} (v1 is active).")
                st.rerun()


def versions_tab(client: StudioAPI, prompt: dict[str, Any],
                 versions: list[dict[str, Any]]) -> None:
    numbers = [v["version"] for v in reversed(versions)]  # newest first
    st.dataframe(to_frame([{
        "version": f"v{v['version']}", "active": "★ active" if v["is_active"] else "",
        "saved": v.get("created_at"), "by": v.get("created_by") or "—",
        "change note": v.get("change_note") or "", "variables": ", ".join(v["variables"]),
    } for v in reversed(versions)]), hide_index=True, width="stretch",
        height=min(300, 40 + 35 * len(versions)))
    active = prompt.get("active_version")
    left, right = st.columns(2)
    chosen = left.selectbox("Version", numbers, index=0, key=f"ver_{prompt['id']}",
                            format_func=lambda n: f"v{n}" + (" (active)" if n == active else ""))
    others = [n for n in numbers if n != chosen] or [chosen]
    # against the active version by default: "what would change if this one served"
    base_default = others.index(active) if active in others else 0
    against = right.selectbox("Compare with", others, index=base_default,
                              key=f"against_{prompt['id']}_{chosen}",
                              format_func=lambda n: f"v{n}")
    v = need(client.version, prompt["id"], chosen)  # lists carry no content
    st.markdown(f"**v{chosen}** saved by {v.get('created_by') or '—'} — "
                f"{v.get('change_note') or 'no note'}")
    show_content(v["content"])
    if caption := references_caption(v.get("references") or []):
        st.caption(caption)
    show_config(v.get("config") or {})
    if against != chosen:
        base = need(client.version, prompt["id"], against)
        diff = unified(base, v)
        st.markdown("**Diff** — " + describe_diff(base, v, diff))
        st.code(diff or "(no difference)", language="diff")
        config_diff = config_unified(base, v)
        if config_diff:
            st.markdown("**Config diff**")
            st.code(config_diff, language="diff")
    st.divider()
    activation_panel(client, prompt, chosen, key=f"act_{prompt['id']}")


def edit_tab(client: StudioAPI, prompt: dict[str, Any], versions: list[dict[str, Any]]) -> None:
    numbers = [v["version"] for v in reversed(versions)]
    active = prompt.get("active_version")
    base = st.selectbox("Start from", numbers,
                        index=numbers.index(active) if active in numbers else 0,
                        key=f"edit_base_{prompt['id']}",
                        format_func=lambda n: f"v{n}" + (" (active)" if n == active else ""))
    base_version = need(client.version, prompt["id"], base)
    content = base_version["content"]
    base_config = base_version.get("config") or {}
    draft = content_editor(f"edit_{prompt['id']}_{base}", content)
    config_draft = st.text_area(
        "Model config (JSON)", value=config_text(base_config), height=160,
        key=f"edit_config_{prompt['id']}_{base}",
        help='model and LLM options, e.g. {"model": "gpt-4o-mini", "temperature": 0, '
             '"tools": [...], "response_format": {"type": "json_object"}}; empty for none. '
             "The application's settings and a request's own options go over it.")
    note = st.text_input("Change note (required)", key=f"edit_note_{prompt['id']}",
                         placeholder="what changed and why")
    activate = st.checkbox("Activate right away", key=f"edit_activate_{prompt['id']}",
                           help="Otherwise the new version waits until someone activates it.")
    if st.button("Save as new version", key=f"edit_save_{prompt['id']}", type="primary"):
        try:
            new_content = draft()
            new_config = config_from_editor(config_draft)
        except ValueError as exc:
            st.warning(str(exc))
            return
        if not note.strip():
            st.warning("Write a change note: it tells the others what changed and why.")
            return
        if new_content == content and new_config == base_config:
            st.info(f"Nothing changed compared with v{base}.")
            return
        saved = call(client.create_version, prompt["id"], new_content, note.strip(),
                     activate=activate, derived_from=base, config=new_config)
        if saved:
            st.session_state.pop(f"ver_{prompt['id']}", None)
            found = ", ".join(variables_in(new_content)) or "none"
            flash(f"Saved v{saved['version']}" + (" and activated it" if activate else "")
                  + f". Variables: {found}.")
            st.rerun()


def history_tab(client: StudioAPI, prompt: dict[str, Any]) -> None:
    entries = call(client.history, prompt["id"])
    if entries is not None:
        st.dataframe(to_frame(timeline_rows(entries)), hide_index=True,
                     width="stretch")


def environments_tab(client: StudioAPI, prompt: dict[str, Any]) -> None:
    """Where each environment points and its weighted split (read-only: splits start and
    end through the API or a promotion, under the prompt's policy)."""
    envs = call(client.environments, prompt["id"])
    if envs is None:
        return
    st.dataframe(to_frame(environment_rows(envs)), hide_index=True, width="stretch")
    if any(e.get("split") for e in envs.values()):
        st.caption("A split environment sends each stickiness key (e.g. the end user's id) "
                   "to the same variant, by weight; requests without a key get the "
                   "environment's version. Usage → group by prompt version shows each "
                   "variant's traffic, cost and scores.")


def main() -> None:
    st.title("📝 Prompts")
    show_flash()
    client = api()
    new_prompt_form(client)
    prompt = pick_prompt(client, "prompts")  # a summary: versions load their content
    if prompt is None:
        return
    versions = need(client.versions, prompt["id"])
    st.subheader(prompt["name"])
    st.caption((prompt.get("description") or "") + f"  ·  active: v{prompt['active_version']}"
               f"  ·  latest: v{prompt['latest_version']}  ·  {len(versions)} versions")
    tab_versions, tab_edit, tab_envs, tab_history = st.tabs(
        ["Versions", "Edit → new version", "Environments", "History"],
        key=f"prompt_tabs_{prompt['id']}")
    with tab_versions:
        versions_tab(client, prompt, versions)
    with tab_edit:
        edit_tab(client, prompt, versions)
    with tab_envs:
        environments_tab(client, prompt)
    with tab_history:
        history_tab(client, prompt)


main()
