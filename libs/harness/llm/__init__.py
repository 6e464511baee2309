"""LiteLLM wrapper: retries, fallbacks, response cache, tokens and cost, embeddings.

Importing this package is cheap: LiteLLM is imported on first use (with its cost map
taken from the installed package, never fetched), and torch only when local
embeddings are first asked for.
"""

from . import _litellm as _litellm  # noqa: F401 - sets LiteLLM's offline switches first
from .cache import MemoryCache, ResponseCache, cache_key
from .client import LLMClient
from .echo import ECHO_MODEL
from .models import ERROR_KINDS, LLMCall, LLMError, LLMRequest, LLMResponse

__all__ = [
    "ECHO_MODEL",
    "ERROR_KINDS",
    "LLMCall",
    "LLMClient",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "MemoryCache",
    "ResponseCache",
    "cache_key",
]
