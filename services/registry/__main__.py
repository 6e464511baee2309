"""``python -m services.registry``: the registry service (see services/registry/service.py)."""

from services.registry.service import create_registry_service
from services.serve import api_keys_guard, serve

if __name__ == "__main__":
    serve(create_registry_service, api_keys_guard)
