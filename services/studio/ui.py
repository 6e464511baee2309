"""Widgets and plumbing shared by the pages: the API connection, error display, pickers,
and the activate/roll-back panel (used by Prompts and Compare)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st
import structlog

from harness.config import Settings
from harness.open_mode import studio_service_key

from .api import ApiError, StudioAPI
from .launch import local_url
from .views.badges import short

T = TypeVar("T")
ACTOR_KEY = "studio_actor"
API_KEY_KEY = "studio_api_key"
_SESSION_CLIENT = "studio_api_client"
log = structlog.get_logger("studio")


def service_key(settings: Settings) -> str | None:
    """``HARNESS_API_KEY`` where the studio may act with it for every visitor (see
    :func:`harness.open_mode.studio_service_key`), else None: visitors sign in."""
    return studio_service_key(settings.api_key, settings.host, access=settings.studio_access,
                              insecure=settings.insecure)


def registry_url(settings: Settings) -> str:
    return settings.url or local_url(settings.host, settings.port)


@st.cache_resource(show_spinner=False)
def _client(base_url: str, api_key: str | None, actor: str | None,
            gateway_url: str | None) -> StudioAPI:
    return StudioAPI(base_url, api_key=api_key, actor=actor, gateway_url=gateway_url)


def session_api_key() -> str | None:
    """The key typed into the sidebar: kept in this browser session's state only (never in
    the URL, a file or a cache shared with other sessions)."""
    return st.session_state.get(API_KEY_KEY) or None


def api() -> StudioAPI:
    """The client for this session: URL and key from the environment (``HARNESS_URL``,
    ``HARNESS_API_KEY``, ``HARNESS_GATEWAY_URL``) or the key entered in the sidebar, the
    actor from the sidebar."""
    s = Settings()
    actor = (st.session_state.get(ACTOR_KEY) or "").strip() or None
    shared = service_key(s)
    key = shared or session_api_key()
    if not key or shared:
        return _client(registry_url(s), shared, actor, s.gateway_url)
    # a client holding a session's key lives in that session, not in the shared cache
    spec = (registry_url(s), key, actor, s.gateway_url)
    held = st.session_state.get(_SESSION_CLIENT)
    if held is None or held[0] != spec:
        held = (spec, StudioAPI(spec[0], api_key=key, actor=actor, gateway_url=spec[3]))
        st.session_state[_SESSION_CLIENT] = held
    return held[1]


def key_panel(settings: Settings) -> bool:
    """The sidebar's sign-in: when the registry requires an API key and none came from
    ``HARNESS_API_KEY``, ask for one (password field, this session only). Returns whether
    the pages can talk to the registry."""
    if service_key(settings):
        st.caption("Signed in with an API key (HARNESS_API_KEY): changes are recorded under "
                   "the key's name.")
        return True
    access = api().access()
    if access == "open":
        st.text_input("Your name", key=ACTOR_KEY, placeholder="recorded with your changes",
                      help="Open local mode (no API keys): the registry records this name "
                           "as the author of every change you make.")
        return True
    if access == "ok":
        st.caption("Signed in with your API key (kept for this browser session only): "
                   "changes are recorded under the key's name.")
        if st.button("Sign out", key="api_key_forget"):
            st.session_state.pop(API_KEY_KEY, None)
            st.session_state.pop(_SESSION_CLIENT, None)
            st.rerun()
        return True
    if access == "unreachable":
        return True  # the health line below says so
    with st.form("api_key_form", border=False):
        typed = st.text_input("API key", type="password", key="api_key_input",
                              help="Kept for this browser session only: never saved, never "
                                   "put in the URL.")
        if st.form_submit_button("Sign in") and typed.strip():
            st.session_state[API_KEY_KEY] = typed.strip()
            st.rerun()
    if access == "bad_key":
        st.error("That API key is unknown or revoked.", icon="🔑")
    else:
        st.info("This registry requires an API key. Create one with `harness keys create "
                "--name YOU --role editor` and paste it here.", icon="🔑")
    return False


def show_error(exc: ApiError) -> None:
    """A readable message (never a stack trace), with the rows/fields the server named."""
    log.warning("studio.api_error", action=exc.action, status=exc.status, kind=exc.kind,
                error=type(exc).__name__)
    st.error(exc.message, icon="🚫")
    errors = exc.row_errors
    if errors:
        st.dataframe([{"where": e.get("field") or e.get("row") or "—",
                       "problem": e.get("message")} for e in errors],
                     hide_index=True, width="stretch")


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Run one API call; on failure show the message and return ``None``."""
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        show_error(exc)
        return None


def need(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Like :func:`call`, but the page cannot go on without the answer: stop here."""
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        show_error(exc)
        st.stop()
        raise  # unreachable: st.stop() ends the script run


def flash(message: str) -> None:
    """A success message that survives the rerun after a button press."""
    st.session_state["studio_flash"] = message


def show_flash() -> None:
    """Always takes one slot, so what follows keeps its place (and tabs their selection)."""
    slot = st.empty()
    message = st.session_state.pop("studio_flash", None)
    if message:
        slot.success(message, icon="✅")


def query_choice(param: str, options: list[str], default: int = 0) -> int:
    """Index of the option named by ``?param=`` in the URL (deep links between pages)."""
    wanted = st.query_params.get(param)
    if wanted in options:
        return options.index(wanted)
    return default if options else 0


def pick_prompt(client: StudioAPI, key: str, *, search: bool = True
                ) -> dict[str, Any] | None:
    """Search box + drop-down of prompts; the choice is kept in ``?prompt=`` of the URL."""
    q = st.text_input("Search prompts", key=f"{key}_q", placeholder="part of a name") \
        if search else ""
    prompts = need(client.prompts, q or None)
    if not prompts:
        st.info("No prompts yet." if not q else f"No prompt name contains {q!r}.")
        return None
    ids = [p["id"] for p in prompts]
    names = {p["id"]: p["name"] for p in prompts}
    chosen = st.selectbox("Prompt", ids, index=query_choice("prompt", ids),
                          format_func=lambda i: names[i], key=f"{key}_prompt")
    if st.query_params.get("prompt") != chosen:
        st.query_params["prompt"] = chosen
    return next(p for p in prompts if p["id"] == chosen)


def activation_panel(client: StudioAPI, prompt: dict[str, Any], version: int,
                     key: str) -> None:
    """Activate (or roll back to) ``version`` with a reason, after a confirmation step."""
    active = prompt.get("active_version")
    if version == active:
        st.caption(f"v{version} is the active version.")
        return
    verb = "Roll back to" if active and version < active else "Activate"
    pending_key = f"{key}_pending"
    reason = st.text_input(f"Reason for {verb.lower()} v{version}", key=f"{key}_reason",
                           placeholder="why this version should serve now")
    if st.session_state.get(pending_key) != version:
        if st.button(f"{verb} v{version}…", key=f"{key}_ask"):
            if not reason.strip():
                st.warning("Give a reason first: it is recorded in the history.")
            else:
                st.session_state[pending_key] = version
                st.rerun()
        return
    st.warning(f"**Confirm:** make v{version} the active version of **{prompt['name']}**"
               f" (now v{active}). Applications pick it up at once. Reason: "
               f"“{short(reason, 200)}”", icon="⚠️")
    yes, no = st.columns(2)
    if yes.button(f"Yes, {verb.lower()} v{version}", key=f"{key}_confirm", type="primary"):
        st.session_state.pop(pending_key, None)
        if call(client.activate, prompt["id"], version, reason.strip()) is not None:
            flash(f"v{version} of {prompt['name']} is now active.")
            st.rerun()
    if no.button("Cancel", key=f"{key}_cancel"):
        st.session_state.pop(pending_key, None)
        st.rerun()


def fired_table(fired: list[dict[str, Any]],
                rows: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    """An alert list's **Fired** part: how many firings, then their ``rows`` as a table (or
    that none has fired)."""
    st.markdown(f"**Fired** ({len(fired)})")
    if fired:
        st.dataframe(to_frame(rows(fired)), hide_index=True, width="stretch")
    else:
        st.caption("None has fired.")


def to_frame(rows: list[dict[str, Any]]):
    """Rows → a pandas DataFrame (pandas ships with Streamlit)."""
    import pandas as pd

    return pd.DataFrame(rows)
