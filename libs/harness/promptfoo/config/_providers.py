"""A config's ``providers`` (or ``targets``): ids, ``{id, label, config, prompts}``
objects, the ``{id: options}`` map form and ``file://`` provider files; ids map to LiteLLM
models and ``config`` to LiteLLM parameters. Targets are prompts × providers in
promptfoo's column order (provider-major), so a target's index is promptfoo's
``promptIdx``."""

from __future__ import annotations

import copy
import re
from typing import Any

from harness.evaluation.models import Target
from harness.evaluation.providers import UnknownProvider, to_litellm_model, to_litellm_params

from ._context import LoadContext, strip_file
from .files import read_structured
from .plan import PromptSpec, ProviderSpec, is_prompt_allowed, target_label

_PROVIDER_OPTION_KEYS = {"label", "config", "prompts", "transform", "delay", "env",
                         "inputs"}
_PROVIDER_UNSUPPORTED = {"transform": "provider output transforms (JavaScript) are not "
                                      "supported"}
_CUSTOM_PROVIDER = re.compile(r"^(https?://|file://|exec:|python:|golang:|ruby:|js:|"
                              r"webhook:|websocket:|sequence|browser|mcp)")


def load_providers(ctx: LoadContext, raw: dict) -> list[ProviderSpec]:
    if "providers" in raw and "targets" in raw:
        raise ctx.error("give either 'providers' or 'targets', not both", "targets")
    key = "targets" if "targets" in raw else "providers"
    value = raw.get(key)
    if value is None:
        raise ctx.error("at least one provider is required", "providers")
    items = [value] if isinstance(value, str | dict) else value
    if not isinstance(items, list) or not items:
        raise ctx.error("must be a provider id or a non-empty list", key)
    out: list[ProviderSpec] = []
    for i, item in enumerate(items):
        where = f"{key}[{i}]" if isinstance(value, list) else key
        if isinstance(item, str) and item.startswith("file://") and \
                item.lower().endswith((".yaml", ".yml", ".json")):
            loaded = read_structured(ctx.matches(item, where)[0], shown=strip_file(item))
            for j, sub in enumerate(loaded if isinstance(loaded, list) else [loaded]):
                out.append(provider(ctx, sub, f"{where}[{j}]", file=strip_file(item)))
        else:
            out.append(provider(ctx, item, where))
    return out


def provider(ctx: LoadContext, item: Any, where: str, file: str | None = None) -> ProviderSpec:
    """One provider entry (an id, an object with ``id``, or ``{id: options}``)."""
    options = _provider_options(ctx, item, where, file)
    pid, model = _provider_model(ctx, options, where, file)
    config = options.get("config") or {}
    if not isinstance(config, dict):
        raise ctx.error("must be a mapping", f"{where}.config", file=file)
    params, ignored = to_litellm_params(pid, config)
    if ignored:
        ctx.warnings.append(f"{where} ({pid}): config keys without a LiteLLM equivalent "
                            f"ignored: {', '.join(ignored)}")
    if options.get("env"):
        ctx.warnings.append(f"{where}.env: provider env overrides are not applied")
    label = options.get("label")
    if label is not None and not isinstance(label, str):
        raise ctx.error("must be a string", f"{where}.label", file=file)
    return ProviderSpec(id=pid, label=label, model=model, params=params, config=config,
                        prompts=_prompt_filter(ctx, options, where, file))


def _provider_options(ctx: LoadContext, item: Any, where: str, file: str | None
                      ) -> dict[str, Any]:
    """The entry as ``{id, ...options}``, whichever of promptfoo's forms it has."""
    if isinstance(item, str):
        return {"id": item}
    if isinstance(item, dict) and "id" in item:
        return item
    if isinstance(item, dict) and len(item) == 1 and \
            next(iter(item)) not in _PROVIDER_OPTION_KEYS:  # {provider_id: options}
        (pid, opts), = item.items()
        if opts is not None and not isinstance(opts, dict):
            raise ctx.error("provider options must be a mapping", f"{where}.{pid}", file=file)
        return {"id": pid, **(opts or {})}
    raise ctx.error("must be a provider id or an object with 'id'", where, file=file)


def _provider_model(ctx: LoadContext, options: dict[str, Any], where: str, file: str | None
                    ) -> tuple[str, str]:
    """(provider id, LiteLLM model) of a provider harness can call."""
    pid = options.get("id")
    if not isinstance(pid, str) or not pid.strip():
        raise ctx.error("provider 'id' must be a non-empty string", f"{where}.id", file=file)
    for key, why in _PROVIDER_UNSUPPORTED.items():
        if options.get(key):
            raise ctx.error(why, f"{where}.{key}", file=file)
    if _CUSTOM_PROVIDER.match(pid):
        raise ctx.error(f"provider {pid!r}: custom providers (HTTP endpoints, scripts, "
                        "browsers) are not supported; use a model provider id such as "
                        "openai:chat:gpt-4o-mini or echo", f"{where}.id", file=file)
    try:
        return pid, to_litellm_model(pid)
    except UnknownProvider as exc:
        raise ctx.error(str(exc), f"{where}.id", file=file) from exc


def _prompt_filter(ctx: LoadContext, options: dict[str, Any], where: str, file: str | None
                   ) -> list[str] | None:
    """The provider's ``prompts`` filter (prompt labels), if any."""
    prompts = options.get("prompts")
    if isinstance(prompts, str):
        prompts = [prompts]
    if prompts is not None and not (isinstance(prompts, list)
                                    and all(isinstance(p, str) for p in prompts)):
        raise ctx.error("must be a list of prompt labels", f"{where}.prompts", file=file)
    return prompts


def build_targets(ctx: LoadContext, prompts: list[PromptSpec], providers: list[ProviderSpec]
                  ) -> tuple[list[Target], list[tuple[int, int]]]:
    """Targets (prompt × provider, provider-major) and each one's (prompt, provider)
    indexes."""
    targets: list[Target] = []
    pairs: list[tuple[int, int]] = []
    for v, spec in enumerate(providers):
        chosen = [p for p, prompt in enumerate(prompts)
                  if is_prompt_allowed(prompt.label, spec.prompts)]
        if not chosen:
            raise ctx.error(f"provider {spec.key!r}: its 'prompts' filter {spec.prompts} "
                            "matches no prompt label", f"providers[{v}].prompts")
        for p in chosen:
            prompt = prompts[p]
            params = dict(spec.params)
            if prompt.config:
                extra, ignored = to_litellm_params(spec.id, prompt.config)
                params.update(extra)
                if ignored:
                    ctx.warnings.append(f"prompt {prompt.label[:40]!r}: config keys "
                                        f"ignored: {', '.join(ignored)}")
            targets.append(Target(
                target_id=f"t{len(targets)}",
                label=target_label(prompt.label, spec.key),
                prompt_name=prompt.label, content=copy.deepcopy(prompt.content),
                model=spec.model, params=params,
            ))
            pairs.append((p, v))
    return targets, pairs
