"""Provider credentials checked before a call: a model whose provider needs a key that is
neither passed nor in the environment is a configuration error, said once and clearly
(which model, which environment variable), instead of a provider "server error" that
retry loops repeat and gateways answer with a cooldown.

Only providers whose SDK refuses to send a request without an API key are checked, so
a provider that authenticates another way (Vertex AI and Bedrock through the platform's
identity, Ollama or vLLM without any) is never refused here.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from .echo import is_echo

# provider -> environment variables, any one of which carries its key
_KEY_ENV: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "text-completion-openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "cohere": ("COHERE_API_KEY", "CO_API_KEY"),
    "cohere_chat": ("COHERE_API_KEY", "CO_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY", "OR_API_KEY"),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY", "TOGETHER_AI_API_KEY"),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY", "FIREWORKSAI_API_KEY"),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
}


class MissingCredentials(Exception):
    """``model``'s provider needs a key and none was given: set one of ``env_vars``."""

    def __init__(self, model: str, env_vars: list[str], where: str = "the environment") -> None:
        self.model, self.env_vars = model, list(env_vars)
        names = " or ".join(env_vars)
        super().__init__(f"Missing credentials for model {model!r}: set {names} in {where}")


@lru_cache(maxsize=1024)
def _provider(model: str, api_base: str | None) -> str | None:
    from ._litellm import litellm

    try:
        _, provider, _, _ = litellm().get_llm_provider(model, api_base=api_base)
    except Exception:  # noqa: BLE001 - an unroutable id is reported by the call itself
        return None
    return provider


def missing_credentials(model: str, params: dict[str, Any] | None = None) -> list[str]:
    """The environment variables one of which ``model`` needs and lacks (empty: none
    missing, or a provider this check does not know)."""
    params = params or {}
    if is_echo(model) or params.get("api_key") or params.get("azure_ad_token"):
        return []
    api_base = params.get("api_base")
    names = _KEY_ENV.get(_provider(model, api_base if isinstance(api_base, str) else None)
                         or "")
    if not names or any(os.environ.get(n) for n in names):
        return []
    return list(names)


def check_credentials(model: str, params: dict[str, Any] | None = None,
                      where: str = "the environment") -> None:
    """Raise :class:`MissingCredentials` when :func:`missing_credentials` finds any."""
    missing = missing_credentials(model, params)
    if missing:
        raise MissingCredentials(model, missing, where)
