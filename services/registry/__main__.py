"""``python -m services.registry``: the registry service (see services/registry/service.py)."""

from services.bootstrap import api_keys_guard, registry_service
from services.serve import serve

if __name__ == "__main__":
    serve(registry_service, api_keys_guard)
