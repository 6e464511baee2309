"""``python -m services.runner``: the runner service (see services/runner/service.py)."""

from services.runner.service import create_runner_service
from services.serve import push_token_guard, serve

if __name__ == "__main__":
    serve(create_runner_service, push_token_guard)
