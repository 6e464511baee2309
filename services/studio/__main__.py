"""``python -m services.studio``: the studio alone, on ``PORT`` (default
``HARNESS_STUDIO_PORT``) and ``HARNESS_HOST``, talking to the registry at ``HARNESS_URL``."""

from __future__ import annotations

import os
import sys

from harness.config import get_settings
from services.studio import launch


def main() -> None:
    s = get_settings()
    if not launch.installed():
        sys.exit(f"the studio is not installed: {launch.INSTALL_HINT}")
    port = int(os.environ.get("PORT") or s.studio_port)
    cmd = launch.command(s.host, port)
    os.execv(cmd[0], cmd)  # Streamlit handles SIGTERM itself


if __name__ == "__main__":
    main()
