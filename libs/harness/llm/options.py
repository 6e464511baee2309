"""Which LLM options a request may carry, in one place.

A run's target ``params``, its ``judge_params``, a generation's ``params`` (and a prompt
version's model config) are stored in events that viewers read, and the workers hand them
to LiteLLM with the *server's* provider keys. So they may only hold options that shape the
answer (temperature, stop, tools, ...): an ``api_base`` would send the server's key to any
host, and an ``API_KEY`` would be stored forever. Endpoints and credentials come only from
server configuration (``HARNESS_LLM_DEPLOYMENTS`` for the workers, the gateway's
deployments and aliases). This is an allowlist, compared exactly: ``API_KEY``,
``Api_Base`` or any name not listed is refused, whatever LiteLLM would make of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Options that change what the model answers, never where the request goes or who pays.
LLM_OPTIONS: frozenset[str] = frozenset({
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop", "seed",
    "n", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "response_format", "tools", "tool_choice", "parallel_tool_calls", "functions",
    "function_call", "user", "reasoning_effort", "verbosity", "thinking", "modalities",
    "audio", "prediction", "web_search_options", "service_tier",
})

# Embedding options (a judge's or a generator's embedding model).
EMBEDDING_OPTIONS: frozenset[str] = frozenset({"dimensions", "encoding_format", "user"})
# A judge's or a generator's params serve both its chat and its embedding calls.
JUDGE_OPTIONS: frozenset[str] = LLM_OPTIONS | EMBEDDING_OPTIONS

# The OpenAI chat-completions request body: what a gateway client may send. Options are
# forwarded to the provider; the rest the gateway reads itself (``variables`` names an
# application's template variables, ``timeout`` bounds the call).
OPENAI_CHAT_FIELDS: frozenset[str] = LLM_OPTIONS | {
    "model", "messages", "stream", "stream_options", "metadata", "store", "prompt_cache_key",
    "prompt_cache_retention", "safety_identifier", "timeout", "variables",
}
# What the gateway forwards of a client's chat request besides the messages.
OPENAI_FORWARDED: frozenset[str] = LLM_OPTIONS | {
    "store", "prompt_cache_key", "prompt_cache_retention", "safety_identifier"}
OPENAI_EMBEDDING_FIELDS: frozenset[str] = EMBEDDING_OPTIONS | {"model", "input", "timeout"}

# Names that say "endpoint or credential" (any case): refused with a message pointing at
# server configuration rather than at the list of options.
_ENDPOINT_OR_SECRET = re.compile(
    r"(api_?base|base_?url|api_?key|api_?version|headers?|token|secret|password|"
    r"credential|^aws_|^vertex_|^azure_|organization|project|region|endpoint|host|url)",
    re.IGNORECASE)

CONFIGURED_BY_SERVER = ("endpoints and credentials come only from server configuration "
                        "(HARNESS_LLM_DEPLOYMENTS, the gateway's deployments and aliases)")


class OptionRefused(ValueError):
    """A name that is not an allowed option; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def is_endpoint_or_credential(name: str) -> bool:
    return bool(_ENDPOINT_OR_SECRET.search(name)) and name.lower() not in {
        "max_tokens", "max_completion_tokens", "top_logprobs"}


def refusal(name: str, where: str, allowed: frozenset[str] = LLM_OPTIONS) -> OptionRefused:
    field = f"{where}.{name}" if where else name
    if is_endpoint_or_credential(name):
        return OptionRefused(field, f"{field}: not allowed; {CONFIGURED_BY_SERVER}")
    return OptionRefused(field, f"{field}: not an allowed LLM option (allowed: "
                                f"{', '.join(sorted(allowed))})")


def check_options(params: Mapping[str, Any], where: str,
                  allowed: frozenset[str] = LLM_OPTIONS) -> None:
    """Raise :class:`OptionRefused` for the first name of ``params`` (sorted) that is not
    in ``allowed``; ``where`` is the dotted path of ``params`` (``targets.0.params``)."""
    for name in sorted(map(str, params)):
        if name not in allowed:
            raise refusal(name, where, allowed)


def allowed_options(params: Mapping[str, Any],
                    allowed: frozenset[str] = LLM_OPTIONS) -> dict[str, Any]:
    """``params`` without what a stored request may not carry (a client records a run
    made elsewhere with its own endpoint and key: those stay on the client)."""
    return {k: v for k, v in params.items() if k in allowed}


def masked_options(params: Mapping[str, Any],
                   allowed: frozenset[str] = LLM_OPTIONS) -> dict[str, Any]:
    """``params`` for display: values of names outside ``allowed`` (stored before the
    allowlist existed, e.g. an ``API_KEY``) are replaced by ``"***"``."""
    return {k: (v if k in allowed else "***") for k, v in params.items()}
