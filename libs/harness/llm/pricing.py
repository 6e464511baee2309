"""Cost of a call: a caller's price table first, then LiteLLM's bundled cost map.

An unknown price is ``None`` (with one warning per model), never 0. LiteLLM's own
``get_model_info`` fills a 0 price for unmapped models that match one of its
"generalization" rules (e.g. any ``gpt-5-*`` name), so a model counts as priced only
when the cost map has an entry for it that carries a per-token price.

LiteLLM also prices every response itself, and for a model missing from its cost map that
takes a fuzzy search over the whole map (about a fifth of its CPU per call here).
:func:`register_with_litellm` gives such a model an entry once per process (the caller's
price, else 0). Those entries only spare LiteLLM the search: harness's own pricing ignores
them, so an unpriced model still costs ``None`` and one client's prices do not leak into
another's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import structlog

from ._litellm import litellm
from .echo import is_echo

log = structlog.get_logger(__name__)

_warned: set[str] = set()
_warned_lock = threading.Lock()
# Cost-map keys harness added for LiteLLM's sake (not prices LiteLLM ships), and the model
# ids already looked at: registration happens once per model per process.
_registered_keys: set[str] = set()
_prepared: set[str] = set()
_prepare_lock = threading.Lock()


def _candidates(model: str) -> list[str]:
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    names.extend([n.lower() for n in names])
    return list(dict.fromkeys(names))


def override_price(prices: Mapping[str, Mapping[str, Any]] | None, model: str) -> dict | None:
    """The caller's price entry for ``model`` (exact id, then without the provider prefix)."""
    if not prices:
        return None
    for name in _candidates(model):
        entry = prices.get(name)
        if entry is not None:
            return dict(entry)
    return None


def cost_map_entry(model: str) -> dict | None:
    """LiteLLM's cost-map entry for ``model`` if it has per-token prices, else None."""
    cost_map: Mapping[str, Any] = litellm().model_cost
    for name in _candidates(model):
        if name in _registered_keys:
            continue
        entry = cost_map.get(name)
        if isinstance(entry, Mapping) and (
            entry.get("input_cost_per_token") is not None
            or entry.get("output_cost_per_token") is not None
        ):
            return dict(entry)
    return None


def register_with_litellm(model: str, prices: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Give ``model`` an entry in LiteLLM's cost map if it has none, once per process, so
    LiteLLM prices its responses by a direct lookup instead of a fuzzy search. Cheap after
    the first call (one set lookup): the client calls it before every completion."""
    if model in _prepared:
        return
    with _prepare_lock:
        if model in _prepared:
            return
        try:
            _register(model, prices)
        except Exception as exc:  # noqa: BLE001 - an optimisation only: never fail a call
            log.debug("llm.price_register_failed", model=model, error=str(exc))
        _prepared.add(model)


def _register(model: str, prices: Mapping[str, Mapping[str, Any]] | None) -> None:
    if is_echo(model) or cost_map_entry(model) is not None:
        return  # never reaches LiteLLM, or LiteLLM already finds its price directly
    lm = litellm()
    name, provider, _, _ = lm.get_llm_provider(model)
    if not provider or name in lm.model_cost or f"{provider}/{name}" in lm.model_cost:
        return  # an entry without per-token prices (e.g. per second): leave LiteLLM's own
    entry = override_price(prices, model) or {}
    before = set(lm.model_cost)
    with _quiet_litellm():  # it warns that cache prices default to 0: true and harmless
        lm.register_model({name: {
            "input_cost_per_token": float(entry.get("input_cost_per_token") or 0.0),
            "output_cost_per_token": float(entry.get("output_cost_per_token") or 0.0),
            "litellm_provider": provider,
            "mode": "chat",
        }}, add_to_provider_model_sets=False)  # a bare "name" must not start routing to it
    _registered_keys.update({name, *(set(lm.model_cost) - before)})


@contextmanager
def _quiet_litellm() -> Iterator[None]:
    logger = logging.getLogger("LiteLLM")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _per_token(entry: Mapping[str, Any], prompt_tokens: int, completion_tokens: int) -> float:
    inp = float(entry.get("input_cost_per_token") or 0.0)
    out = float(entry.get("output_cost_per_token") or 0.0)
    return prompt_tokens * inp + completion_tokens * out


def warn_unknown(model: str) -> None:
    with _warned_lock:
        if model in _warned:
            return
        _warned.add(model)
    log.warning(
        "llm.price_unknown",
        model=model,
        hint="pass prices={model: {input_cost_per_token, output_cost_per_token}} to LLMClient",
    )


def completion_cost(
    model: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    *,
    response: Any = None,
    prices: Mapping[str, Mapping[str, Any]] | None = None,
    litellm_cost: float | None = None,
) -> float | None:
    """USD cost of one completion by ``model``, or None when its price is unknown (the
    offline ``echo`` model is free unless a price is configured for it).

    ``litellm_cost``: the cost LiteLLM already computed for ``response`` from its cost map
    (``response._hidden_params["response_cost"]``), used for a model LiteLLM prices
    instead of pricing the same response a second time."""
    entry = override_price(prices, model)
    if entry is not None:
        return _per_token(entry, prompt_tokens or 0, completion_tokens or 0)
    if is_echo(model):
        return 0.0
    entry = cost_map_entry(model)
    if entry is None:
        warn_unknown(model)
        return None
    if isinstance(litellm_cost, int | float) and not isinstance(litellm_cost, bool):
        return float(litellm_cost)
    lm = litellm()
    if response is not None:
        try:  # handles cached / reasoning tokens and tiered prices
            return float(lm.completion_cost(completion_response=response, model=model))
        except Exception as exc:  # noqa: BLE001 - fall back to the plain per-token price
            log.debug("llm.cost_fallback", model=model, error=str(exc))
    try:
        prompt_cost, completion_cost_ = lm.cost_per_token(
            model=model,
            prompt_tokens=prompt_tokens or 0,
            completion_tokens=completion_tokens or 0,
        )
        return float(prompt_cost) + float(completion_cost_)
    except Exception:  # noqa: BLE001
        return _per_token(entry, prompt_tokens or 0, completion_tokens or 0)


def embedding_cost(
    model: str,
    prompt_tokens: int | None,
    *,
    prices: Mapping[str, Mapping[str, Any]] | None = None,
) -> float | None:
    entry = override_price(prices, model) or cost_map_entry(model)
    if entry is None:
        warn_unknown(model)
        return None
    return _per_token(entry, prompt_tokens or 0, 0)
