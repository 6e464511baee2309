"""The studio's entry point: ``streamlit run services/studio/app.py`` (``harness up``
starts it). The sidebar says which registry it talks to and who is editing; each page is
one script in ``screens/`` (not ``pages/``: Streamlit would serve a folder by that name
on its own, without this navigation and sidebar)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from harness.config import Settings
from harness.logging import configure_logging, wants_json
from services.studio.ui import api, key_panel, registry_url

HERE = Path(__file__).parent
PAGES = [  # (script, title, icon, url path)
    ("prompts.py", "Prompts", "📝", "prompts"),
    ("playground.py", "Playground", "🧪", "playground"),
    ("datasets.py", "Datasets", "🗂️", "datasets"),
    ("runs.py", "Runs", "▶️", "runs"),
    ("compare.py", "Compare", "📊", "compare"),
    ("traces.py", "Traces", "🔎", "traces"),
    ("annotate.py", "Annotate", "🏷️", "annotate"),
    ("evaluators.py", "Evaluators", "🧑‍⚖️", "evaluators"),
    ("usage.py", "Usage", "📈", "usage"),
]

st.set_page_config(page_title="harness studio", page_icon="🧰", layout="wide")



@st.cache_resource(show_spinner=False)
def _configure_logging(level: str, json_logs: bool) -> bool:
    configure_logging(level, json_logs)  # once per process, not on every rerun
    return True


settings = Settings()
_configure_logging(settings.log_level, wants_json(settings.log_format, settings.log_json))
with st.sidebar:
    st.markdown("### 🧰 harness studio")
    signed_in = key_panel(settings)
    healthy = api().health()
    st.caption(("🟢 " if healthy else "🔴 ") + f"registry: {registry_url(settings)}")
    if not healthy:
        st.error("The registry does not answer. Start it with `harness up`, or set "
                 "HARNESS_URL to where it runs.", icon="🔌")

page = st.navigation([st.Page(str(HERE / "screens" / script), title=title, icon=icon,
                              url_path=path) for script, title, icon, path in PAGES])
if signed_in:
    page.run()
else:
    st.title("🔑 Sign in")
    st.info("This registry requires an API key: enter yours in the sidebar (it is kept for "
            "this browser session only).")

