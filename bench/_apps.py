"""ASGI factories for bench/registry.py (run by uvicorn --factory in their own processes)."""

import os

from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

CONSTANT = {
    "application_id": "00000000-0000-0000-0000-000000000000", "application": "bot",
    "model": "openai/gpt-4o-mini", "fallback_models": [],
    "params": {"temperature": 0.7, "max_tokens": 1024}, "prompt_id": "p", "prompt_name": "p",
    "version": 3, "content": [{"role": "system", "content": "You support {{ product }}."},
                              {"role": "user", "content": "{{ question }}"}],
    "variables": ["product", "question"],
}


def bare() -> FastAPI:
    app = FastAPI()

    @app.get("/constant")
    async def constant():
        return ORJSONResponse(CONSTANT)

    return app


def registry():
    from harness.logging import configure_logging
    from services.registry.app import create_app

    configure_logging("WARNING")
    return create_app(os.environ["DATABASE_URL"])
