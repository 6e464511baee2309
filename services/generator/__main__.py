"""``python -m services.generator``: the generator service (see services/generator/service.py)."""

from services.generator.service import create_generator_service
from services.serve import push_token_guard, serve

if __name__ == "__main__":
    serve(create_generator_service, push_token_guard)
