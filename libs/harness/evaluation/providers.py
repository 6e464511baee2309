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


# ---------------------------------------------------------------- provider config → params
# promptfoo's provider ``config`` mixes API parameters (snake_case, sent as they are) with
# promptfoo's own settings (camelCase). These camelCase keys have a LiteLLM equivalent.
_CONFIG_RENAMES = {
    "apiBaseUrl": "api_base",
    "apiBase": "api_base",
    "baseUrl": "api_base",
    "base_url": "api_base",
    "apiKey": "api_key",
    "apiVersion": "api_version",
    "maxTokens": "max_tokens",
    "maxOutputTokens": "max_tokens",
    "max_output_tokens": "max_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "stopSequences": "stop",
    "stop_sequences": "stop",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "responseFormat": "response_format",
    "headers": "extra_headers",
    "projectId": "vertex_project",
}


def to_litellm_params(
    provider: str, config: dict | None, env: dict[str, str] | None = None
) -> tuple[dict, list[str]]:
    """LiteLLM keyword arguments for a promptfoo provider ``config``, and the config keys
    that were left out (promptfoo-only settings with no LiteLLM meaning).

    snake_case keys are API parameters and pass through (``temperature``, ``max_tokens``,
    ``seed``, ``response_format``, ...); known camelCase settings are renamed
    (``apiBaseUrl`` → ``api_base``, ``apiKey`` → ``api_key``, ``headers`` →
    ``extra_headers``, ...); ``apiHost`` becomes an https ``api_base``; ``apiKeyEnvar``
    reads the key from ``env`` (default: the process environment); ``passthrough`` is
    merged in as it is.
    """
    import os

    env = os.environ if env is None else env
    prefix = provider.split(":", 1)[0] if ":" in provider else ""
    params: dict = {}
    ignored: list[str] = []
    for key, value in (config or {}).items():
        if value is None:
            continue
        if key == "passthrough" and isinstance(value, dict):
            params.update(value)
        elif key in _CONFIG_RENAMES:
            params[_CONFIG_RENAMES[key]] = value
        elif key == "apiHost":
            host = str(value).rstrip("/")
            base = host if "://" in host else f"https://{host}"
            params["api_base"] = f"{base}/v1" if prefix in ("openai", "") else base
        elif key == "apiKeyEnvar":
            if env.get(str(value)):
                params["api_key"] = env[str(value)]
            else:
                ignored.append(f"{key} ({value} is not set)")
        elif key == "region":
            params["vertex_location" if prefix == "vertex" else "aws_region_name"] = value
        elif key != key.lower():  # another promptfoo-only camelCase setting
            ignored.append(key)
        else:
            params[key] = value
    return params, ignored
