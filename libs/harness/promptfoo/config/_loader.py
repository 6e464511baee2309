"""The whole config: its top-level keys (read, ignored with a warning, or refused),
``evaluateOptions`` and ``outputPath``, and the plan made of prompts, providers and
cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._cases import load_cases
from ._context import CODE_EXTENSIONS, LoadContext
from ._prompts import load_prompts
from ._providers import build_targets, load_providers
from .files import find_config, read_structured
from .plan import EvalPlan

_TOP_KEYS = {"description", "prompts", "providers", "targets", "tests", "defaultTest",
             "evaluateOptions", "outputPath"}
_TOP_IGNORED = {
    "tags": None, "metadata": None, "sharing": None, "writeLatestResults": None,
    "commandLineOptions": None, "tracing": "tracing is not supported",
    "env": "env overrides are not applied; set these variables in the environment instead",
}
_TOP_UNSUPPORTED = {
    "scenarios": "scenarios are not supported; list the tests instead",
    "nunjucksFilters": "custom Nunjucks filters (JavaScript) are not supported",
    "extensions": "extension hooks (JavaScript/Python) are not supported",
    "derivedMetrics": "derived metrics are not supported",
    "redteam": "red-team configs are not supported",
}


def load_config(path: Path | str) -> EvalPlan:
    """Read a promptfoo config (``.yaml`` / ``.yml`` / ``.json``, or a directory holding
    ``promptfooconfig.yaml``) into an :class:`EvalPlan`; a :class:`ConfigError` names the
    file and the field of anything wrong."""
    ctx = LoadContext(find_config(Path(path)))
    raw = _read_top_level(ctx)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ctx.error("must be a string", "description")
    prompts = load_prompts(ctx, raw.get("prompts"))
    providers = load_providers(ctx, raw)
    targets, pairs = build_targets(ctx, prompts, providers)
    cases = load_cases(ctx, raw)
    plan = EvalPlan(
        config_path=ctx.path, description=description, raw_config=raw,
        prompts=prompts, providers=providers, targets=targets, target_pairs=pairs,
        cases=cases, evaluate_options=_evaluate_options(ctx, raw),
        output_paths=_output_paths(ctx, raw), warnings=ctx.warnings,
    )
    for case in cases:
        if not any(plan.runs(case, t) for t in range(len(targets))):
            plan.warnings.append(
                f"{case.metadata['promptfoo']['source']}: its providers/prompts filter "
                "matches no target, so it does not run")
    return plan


def _read_top_level(ctx: LoadContext) -> dict:
    """The config as a mapping, its top-level keys checked."""
    if ctx.path.suffix.lower() in CODE_EXTENSIONS:
        raise ctx.error("JavaScript/TypeScript/Python configs are not supported; "
                        "use promptfooconfig.yaml or .json")
    raw = read_structured(ctx.path)
    if raw is None:
        raise ctx.error("the config is empty")
    if not isinstance(raw, dict):
        raise ctx.error(f"the config must be a mapping, got {type(raw).__name__}")
    for key in raw:
        if key in _TOP_UNSUPPORTED:
            raise ctx.error(_TOP_UNSUPPORTED[key], key)
        if key in _TOP_IGNORED:
            why = _TOP_IGNORED[key]
            if why:
                ctx.warnings.append(f"{key}: {why}")
        elif key not in _TOP_KEYS:
            ctx.warnings.append(f"{key}: unknown config key, ignored")
    return raw


def _evaluate_options(ctx: LoadContext, raw: dict) -> dict[str, Any]:
    opts = raw.get("evaluateOptions") or {}
    if not isinstance(opts, dict):
        raise ctx.error("must be a mapping", "evaluateOptions")
    out: dict[str, Any] = {}
    for key in ("maxConcurrency", "repeat"):
        if key in opts:
            value = opts[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ctx.error(f"must be a whole number ≥ 1, got {value!r}",
                                f"evaluateOptions.{key}")
            out[key] = value
    if "cache" in opts:
        out["cache"] = bool(opts["cache"])
    return out


def _output_paths(ctx: LoadContext, raw: dict) -> list[Path]:
    value = raw.get("outputPath")
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in items):
        raise ctx.error("must be a path or a list of paths", "outputPath")
    return [ctx.resolve(v) for v in items]
