"""promptfoo provider ids → LiteLLM model ids.

promptfoo names providers ``openai:chat:gpt-4o-mini``, ``anthropic:messages:claude-...``,
``vertex:gemini-1.5-pro``, ``ollama:chat:llama3``, ``echo``; LiteLLM names them
``openai/gpt-4o-mini``, ``anthropic/claude-...``. A LiteLLM id passes through unchanged.
"""

from __future__ import annotations

# promptfoo prefix → LiteLLM provider
_PREFIXES = {
    "openai": "openai",
    "azure": "azure",
    "azureopenai": "azure",
    "anthropic": "anthropic",
    "vertex": "vertex_ai",
    "google": "gemini",
    "gemini": "gemini",
    "bedrock": "bedrock",
    "mistral": "mistral",
    "groq": "groq",
    "ollama": "ollama",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "togetherai": "together_ai",
    "fireworks": "fireworks_ai",
    "cohere": "cohere",
    "huggingface": "huggingface",
    "xai": "xai",
    "perplexity": "perplexity",
    "litellm": "",
}
# promptfoo's second segment names an API flavour, not part of the model name
_API_KINDS = {"chat", "completion", "messages", "embedding", "embeddings", "responses"}


class UnknownProvider(ValueError):
    pass


def to_litellm_model(provider: str) -> str:
    """Map a promptfoo provider id (or a LiteLLM id) to a LiteLLM model id."""
    provider = provider.strip()
    if provider in ("echo", "harness:echo"):
        return "echo"
    if "/" in provider and ":" not in provider.split("/")[0]:
        return provider  # already a LiteLLM id
    if ":" not in provider:
        return provider
    prefix, rest = provider.split(":", 1)
    if prefix not in _PREFIXES:
        raise UnknownProvider(f"provider {provider!r}: unknown prefix {prefix!r}")
    head, _, tail = rest.partition(":")
    model = tail if head in _API_KINDS and tail else rest
    target = _PREFIXES[prefix]
    return f"{target}/{model}" if target else model
