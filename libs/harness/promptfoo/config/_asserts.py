"""A test's ``assert`` list: types harness can run (anything else is an error naming the
supported ones), ``file://`` values, scripts and transforms made absolute, grading
providers checked and their ``config`` in LiteLLM's terms."""

from __future__ import annotations

import re
from typing import Any

from harness.assertions import SUPPORTED_TYPES
from harness.assertions.more_types import SCRIPT_TYPES, unsupported_reason
from harness.assertions.shorthand import PROMPTFOO_ASSERTION_TYPES
from harness.evaluation.providers import UnknownProvider, to_litellm_model, to_litellm_params

from ._context import LoadContext, strip_file
from .files import read_structured


def prepare_asserts(ctx: LoadContext, raw: Any, file: str, where: str) -> list[dict]:
    """Validated assertions with ``file://`` values loaded."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ctx.error(f"must be a list, got {type(raw).__name__}", f"{where}.assert",
                        file=file)
    out: list[dict] = []
    for j, item in enumerate(raw):
        at = f"{where}.assert[{j}]"
        if not isinstance(item, dict):
            raise ctx.error(f"must be an object, got {type(item).__name__}", at, file=file)
        a_type = item.get("type")
        if not isinstance(a_type, str):
            raise ctx.error("missing 'type'", at, file=file)
        if a_type not in SUPPORTED_TYPES:
            supported = sorted(t for t in SUPPORTED_TYPES if not t.startswith("not-"))
            raise ctx.error(f"{_why_not(a_type)} (supported: {', '.join(supported)})", at,
                            file=file)
        out.append(_prepare_one(ctx, dict(item), a_type, file, at))
    # Values are not checked here: as in promptfoo, an assertion whose value cannot be
    # used makes its row an error when it runs, and the other rows still run.
    return out


def _why_not(a_type: str) -> str:
    """Why an assertion type harness does not run is refused."""
    base = a_type[4:] if a_type.startswith("not-") else a_type
    if unsupported_reason(a_type):
        return unsupported_reason(a_type)
    if base in PROMPTFOO_ASSERTION_TYPES or base in ("assert-set", "select-best", "max-score",
                                                     "human"):
        return f"promptfoo assertion type {a_type!r} is not supported by harness"
    return f"unknown assertion type {a_type!r}"


def _prepare_one(ctx: LoadContext, item: dict, a_type: str, file: str, at: str) -> dict:
    base = a_type[4:] if a_type.startswith("not-") else a_type
    if a_type == "assert-set" and isinstance(item.get("assert"), list):
        item["assert"] = prepare_asserts(ctx, item["assert"], file, at)
    for key in ("transform", "contextTransform"):
        if isinstance(item.get(key), str) and item[key].startswith("file://"):
            item[key] = script_ref(ctx, item[key], file, f"{at}.{key}")
    if base in SCRIPT_TYPES and isinstance(item.get("value"), str) and \
            item["value"].startswith("file://"):
        item["value"] = script_ref(ctx, item["value"], file, f"{at}.value")
    elif "value" in item:  # an explicit null stays: equals null ≠ equals (undefined)
        item["value"] = _load_value(ctx, item["value"], file, f"{at}.value")
    if "provider" in item and item["provider"] is not None:
        check_grader(ctx, item["provider"], file, f"{at}.provider")
    return item


def script_ref(ctx: LoadContext, value: str, file: str, where: str) -> str:
    """A python/javascript assertion's ``file://path[:function]`` with the path made
    absolute (relative to the config's folder), so it runs from any working dir."""
    ref = strip_file(value)
    m = re.match(r"^(.*\.(?:py|js|cjs|mjs))(?::([\w.]+))?$", ref)
    if not m:
        raise ctx.error(f"a script assertion needs a .py or .js file, got {value!r}",
                        where, file=file)
    path = (ctx.base / m.group(1)).resolve()
    if not path.is_file():
        raise ctx.error(f"script not found: {m.group(1)!r}", where, file=file)
    return f"file://{path}" + (f":{m.group(2)}" if m.group(2) else "")


def _load_value(ctx: LoadContext, value: Any, file: str, where: str) -> Any:
    if isinstance(value, list):
        return [_load_value(ctx, v, file, where) for v in value]
    if not isinstance(value, str) or not value.startswith("file://"):
        return value
    ref = strip_file(value)
    if re.search(r"\.(js|cjs|mjs|ts|py)(:[\w.]+)?$", ref):
        raise ctx.error(f"code assertions ({value!r}) are not supported", where, file=file)
    path = ctx.matches(value, where, file=file)[0]
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        return read_structured(path, shown=ctx.rel(path))
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ctx.error(f"cannot read {value!r}: {exc}", where, file=file) from exc


def check_grader(ctx: LoadContext, provider: Any, file: str, where: str) -> None:
    """A grading provider (``options.provider``, an assertion's ``provider``) harness can
    call; a per-kind map is a warning (the default judge is used)."""
    pid = provider.get("id") if isinstance(provider, dict) else provider
    if isinstance(provider, dict) and pid is None:
        ctx.warnings.append(f"{file}: {where}: per-kind grading providers are not "
                            "supported; the default judge model is used")
        return
    if not isinstance(pid, str):
        raise ctx.error("must be a provider id or an object with 'id'", where, file=file)
    try:
        to_litellm_model(pid)
    except UnknownProvider as exc:
        raise ctx.error(str(exc), where, file=file) from exc


def grader_params(assertion: dict) -> dict:
    """An assertion whose grading provider ``config`` is in LiteLLM's terms."""
    provider = assertion.get("provider")
    if isinstance(provider, dict) and isinstance(provider.get("id"), str):
        params, _ = to_litellm_params(provider["id"], provider.get("config"))
        return {**assertion, "provider": {**provider, "config": params}}
    return dict(assertion)
