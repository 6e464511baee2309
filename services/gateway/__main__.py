"""``python -m services.gateway``: the gateway service (see services/gateway/service.py)."""

from services.bootstrap import api_keys_guard, gateway_service
from services.serve import serve

if __name__ == "__main__":
    serve(gateway_service, api_keys_guard)
