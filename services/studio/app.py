"""The studio's entry point: ``streamlit run services/studio/app.py`` (``harness up``
starts it). The sidebar says which registry it talks to and who is editing; each page is
one script in ``screens/`` (not ``pages/``: Streamlit would serve a folder by that name
on its own, without this navigation and sidebar)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from harness.config import Settings
from harness.logging import configure_logging
from services.studio.ui import ACTOR_KEY, api, registry_url

HERE = Path(__file__).parent
PAGES = [  # (script, title, icon, url path)
    ("prompts.py", "Prompts", "📝", "prompts"),
    ("playground.py", "Playground", "🧪", "playground"),
    ("datasets.py", "Datasets", "🗂️", "datasets"),
    ("runs.py", "Runs", "▶️", "runs"),
    ("compare.py", "Compare", "📊", "compare"),
    ("usage.py", "Usage", "📈", "usage"),
]

st.set_page_config(page_title="harness studio", page_icon="🧰", layout="wide")



@st.cache_resource(show_spinner=False)
def _configure_logging(level: str, json_logs: bool) -> bool:
    configure_logging(level, json_logs)  # once per process, not on every rerun
    return True


settings = Settings()
_configure_logging(settings.log_level, settings.log_json)
with st.sidebar:
    st.markdown("### 🧰 harness studio")
    if settings.api_key:
        st.caption("Signed in with an API key: changes are recorded under the key's name.")
    else:
        st.text_input("Your name", key=ACTOR_KEY, placeholder="recorded with your changes",
                      help="Open local mode (no API keys): the registry records this name "
                           "as the author of every change you make.")
    healthy = api().health()
    st.caption(("🟢 " if healthy else "🔴 ") + f"registry: {registry_url(settings)}")
    if not healthy:
        st.error("The registry does not answer. Start it with `harness up`, or set "
                 "HARNESS_URL to where it runs.", icon="🔌")

page = st.navigation([st.Page(str(HERE / "screens" / script), title=title, icon=icon,
                              url_path=path) for script, title, icon, path in PAGES])
page.run()
