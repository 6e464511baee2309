"""OpenAI-compatible gateway: routing via LiteLLM, keys, budgets, PII, traces."""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"

__all__ = ["MIGRATIONS"]
