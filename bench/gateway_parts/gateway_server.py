"""The gateway service (what ``python -m services.gateway`` runs on Cloud Run) as a process
of its own, pointed at the stub provider."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--stub-url", required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()

    import uvicorn

    from harness.config import Settings
    from harness.logging import configure_logging
    from services.bootstrap import gateway_service
    from services.gateway.config import GatewaySettings

    configure_logging("WARNING", True)
    app = gateway_service(
        Settings(database_url=args.database_url, pool_max_size=10),
        GatewaySettings(deployments={"*": {"api_base": args.stub_url, "api_key": "sk-stub"}},
                        num_retries=0, timeout_s=30))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                backlog=2048)


if __name__ == "__main__":
    main()
