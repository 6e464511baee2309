"""``python -m services.studio``: the studio alone, on ``PORT`` (default
``HARNESS_STUDIO_PORT``) and ``HARNESS_HOST``, talking to the registry at ``HARNESS_URL``."""

from __future__ import annotations

import os
import sys

from harness.config import get_settings
from harness.open_mode import studio_service_key
from services.studio import launch


def main() -> None:
    s = get_settings()
    if not launch.installed():
        sys.exit(f"the studio is not installed: {launch.INSTALL_HINT}")
    port = int(os.environ.get("PORT") or s.studio_port)
    insecure = s.insecure or "--insecure" in sys.argv[1:]
    if s.api_key and not studio_service_key(s.api_key, s.host, access=s.studio_access,
                                            insecure=insecure):
        print(f"studio on {s.host}: HARNESS_API_KEY is not used for visitors (nothing vets "
              "them in front of the studio); each visitor signs in with their own key. Set "
              "HARNESS_STUDIO_ACCESS=iap|private behind Identity-Aware Proxy or private "
              "ingress, or pass --insecure, to act with it.", file=sys.stderr)
    if insecure:
        os.environ["HARNESS_INSECURE"] = "1"  # the Streamlit child reads its settings again
    cmd = launch.command(s.host, port)
    os.execv(cmd[0], cmd)  # Streamlit handles SIGTERM itself


if __name__ == "__main__":
    main()
