"""``python -m services.gateway``: the gateway service (see services/gateway/service.py)."""

from services.gateway.service import create_gateway_service
from services.serve import api_keys_guard, serve

if __name__ == "__main__":
    serve(create_gateway_service, api_keys_guard)
