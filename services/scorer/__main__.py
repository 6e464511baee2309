"""``python -m services.scorer``: the scorer service (see services/scorer/service.py)."""

from services.scorer.service import create_scorer_service
from services.serve import push_token_guard, serve

if __name__ == "__main__":
    serve(create_scorer_service, push_token_guard)
