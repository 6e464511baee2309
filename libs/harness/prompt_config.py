"""A prompt version's model config: which model it was written for and the LLM options
(tools, tool choice, response format, temperature, ...) it runs with.

A version's ``config`` is a flat object, as in the OpenAI chat-completions request:
``model`` (a deployment or alias name the gateway and the workers know) and any LLM option
of :data:`harness.llm.options.LLM_OPTIONS` (the allowlist runs use). It is checked
strictly, because it is stored in an immutable event and handed to providers with the
server's keys:

* a key that is neither ``model`` nor an allowed option is refused, all such keys named;
  endpoints and credentials (``api_base``, ``api_key``) come only from server configuration;
* ``tools`` must be an OpenAI tool list (``{"type": "function", "function": {"name",
  "description", "parameters", "strict"}}``; ``parameters`` a JSON Schema), names unique;
* ``tool_choice`` is ``none``, ``auto``, ``required`` or names one of ``tools``;
* ``response_format`` is ``text``, ``json_object`` or ``json_schema`` with a ``name`` and
  a ``schema`` that is a valid JSON Schema;
* the numeric options are in the ranges providers accept.

Precedence where a version runs (the gateway's ``app/<name>``, a run's target):
the request's options > the application's > the version's config > defaults
(:func:`merge`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from harness.llm import options

MODEL = "model"
ALLOWED_KEYS: frozenset[str] = options.LLM_OPTIONS | {MODEL}

# OpenAI: a function name is a-z, A-Z, 0-9, underscores and dashes, at most 64 characters.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TOOL_CHOICES = ("none", "auto", "required")
_FORMATS = ("text", "json_object", "json_schema")


class ConfigError(ValueError):
    """What is wrong and where (``field``: the dotted path, ``config.tools.0.function``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _fail(field: str, message: str) -> ConfigError:
    return ConfigError(field, message)


def _check_json_schema(schema: Any, field: str) -> None:
    if not isinstance(schema, dict):
        raise _fail(field, "must be a JSON Schema object")
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise _fail(field, f"not a valid JSON Schema at {where}: {exc.message}") from None


def _check_tools(tools: Any, field: str) -> list[str]:
    """The function names of an OpenAI tool list."""
    if not isinstance(tools, list):
        raise _fail(field, "must be a list of OpenAI tools "
                           '([{"type": "function", "function": {"name": ...}}])')
    names: list[str] = []
    for i, tool in enumerate(tools):
        at = f"{field}.{i}"
        if not isinstance(tool, dict):
            raise _fail(at, 'must be an object {"type": "function", "function": {...}}')
        unknown = sorted(set(tool) - {"type", "function"})
        if unknown:
            raise _fail(at, f"unknown keys {', '.join(unknown)} (allowed: function, type)")
        if tool.get("type") != "function":
            raise _fail(f"{at}.type", f'must be "function", not {tool.get("type")!r}')
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise _fail(f"{at}.function", "must be an object with a name")
        unknown = sorted(set(fn) - {"name", "description", "parameters", "strict"})
        if unknown:
            raise _fail(f"{at}.function", f"unknown keys {', '.join(unknown)} (allowed: "
                                          "description, name, parameters, strict)")
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _fail(f"{at}.function.name", "must be 1 to 64 letters, digits, _ or -")
        if name in names:
            raise _fail(f"{at}.function.name", f"duplicate tool name {name!r}")
        names.append(name)
        if "description" in fn and not isinstance(fn["description"], str):
            raise _fail(f"{at}.function.description", "must be a string")
        if "strict" in fn and not isinstance(fn["strict"], bool):
            raise _fail(f"{at}.function.strict", "must be true or false")
        if "parameters" in fn:
            params = fn["parameters"]
            _check_json_schema(params, f"{at}.function.parameters")
            if params.get("type", "object") != "object":
                raise _fail(f"{at}.function.parameters.type", 'must be "object"')
    return names


def _check_tool_choice(choice: Any, tools: list[str] | None, field: str) -> None:
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise _fail(field, f"must be one of {', '.join(_TOOL_CHOICES)} or "
                               '{"type": "function", "function": {"name": ...}}')
        if choice != "none" and not tools:
            raise _fail(field, f"{choice!r} needs tools")
        return
    if not isinstance(choice, dict) or choice.get("type") != "function" \
            or not isinstance(choice.get("function"), dict) or set(choice) != {"type",
                                                                              "function"}:
        raise _fail(field, 'must be "none", "auto", "required" or '
                           '{"type": "function", "function": {"name": ...}}')
    name = choice["function"].get("name")
    if set(choice["function"]) != {"name"} or not isinstance(name, str):
        raise _fail(f"{field}.function", 'must be {"name": <a tool name>}')
    if name not in (tools or []):
        raise _fail(f"{field}.function.name", f"{name!r} is not one of the tools "
                                              f"({', '.join(tools or []) or 'none given'})")


def _check_response_format(fmt: Any, field: str) -> None:
    if not isinstance(fmt, dict) or fmt.get("type") not in _FORMATS:
        raise _fail(field, "must be {\"type\": \"text\"}, {\"type\": \"json_object\"} or "
                           "{\"type\": \"json_schema\", \"json_schema\": {\"name\", \"schema\"}}")
    kind = fmt["type"]
    allowed = {"type", "json_schema"} if kind == "json_schema" else {"type"}
    unknown = sorted(set(fmt) - allowed)
    if unknown:
        raise _fail(field, f"unknown keys {', '.join(unknown)} for type {kind!r}")
    if kind != "json_schema":
        return
    spec = fmt.get("json_schema")
    at = f"{field}.json_schema"
    if not isinstance(spec, dict):
        raise _fail(at, "must be an object with a name and a schema")
    unknown = sorted(set(spec) - {"name", "description", "schema", "strict"})
    if unknown:
        raise _fail(at, f"unknown keys {', '.join(unknown)} (allowed: description, name, "
                        "schema, strict)")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(f"{at}.name", "must be 1 to 64 letters, digits, _ or -")
    if "schema" not in spec:
        raise _fail(f"{at}.schema", "is required (the JSON Schema the answer follows)")
    _check_json_schema(spec["schema"], f"{at}.schema")
    if "strict" in spec and not isinstance(spec["strict"], bool):
        raise _fail(f"{at}.strict", "must be true or false")
    if "description" in spec and not isinstance(spec["description"], str):
        raise _fail(f"{at}.description", "must be a string")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# (low, high, low inclusive) of the numeric options providers bound.
_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0, 2, True), "top_p": (0, 1, False),
    "presence_penalty": (-2, 2, True), "frequency_penalty": (-2, 2, True),
}
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens", "n", "top_k")


def _check_values(config: Mapping[str, Any], where: str) -> None:
    for name, (low, high, inclusive) in _RANGES.items():
        if name in config:
            v = config[name]
            if not _number(v) or v > high or (v < low if inclusive else v <= low):
                bound = "[" if inclusive else "("
                raise _fail(f"{where}.{name}", f"must be a number in {bound}{low}, {high}]")
    for name in _POSITIVE_INTS:
        if name in config and (not isinstance(config[name], int)
                               or isinstance(config[name], bool) or config[name] < 1):
            raise _fail(f"{where}.{name}", "must be a whole number of at least 1")
    if "seed" in config and (not isinstance(config["seed"], int)
                             or isinstance(config["seed"], bool)):
        raise _fail(f"{where}.seed", "must be a whole number")
    if "stop" in config:
        stop = config["stop"]
        if not (isinstance(stop, str) or (isinstance(stop, list)
                                          and all(isinstance(s, str) for s in stop))):
            raise _fail(f"{where}.stop", "must be a string or a list of strings")
    if "parallel_tool_calls" in config and not isinstance(config["parallel_tool_calls"], bool):
        raise _fail(f"{where}.parallel_tool_calls", "must be true or false")


def check_config(config: Mapping[str, Any] | None, where: str = "config") -> dict[str, Any]:
    """The config as stored (a plain dict; ``{}`` for none), or :class:`ConfigError`."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise _fail(where, "must be an object")
    keys = [str(k) for k in config]
    secrets = sorted(k for k in keys if k not in ALLOWED_KEYS
                     and options.is_endpoint_or_credential(k))
    if secrets:
        raise _fail(f"{where}.{secrets[0]}", f"{', '.join(secrets)} not allowed; "
                                             f"{options.CONFIGURED_BY_SERVER}")
    unknown = sorted(k for k in keys if k not in ALLOWED_KEYS)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}",
                    f"unknown keys {', '.join(unknown)} (allowed: model and the LLM options "
                    f"{', '.join(sorted(options.LLM_OPTIONS))})")
    model = config.get(MODEL)
    if MODEL in config and (not isinstance(model, str) or not model.strip()):
        raise _fail(f"{where}.model", "must be a deployment or alias name")
    tools = _check_tools(config["tools"], f"{where}.tools") if "tools" in config else None
    if "tool_choice" in config:
        _check_tool_choice(config["tool_choice"], tools, f"{where}.tool_choice")
    if "parallel_tool_calls" in config and tools is None:
        raise _fail(f"{where}.parallel_tool_calls", "needs tools")
    if "response_format" in config:
        _check_response_format(config["response_format"], f"{where}.response_format")
    _check_values(config, where)
    return {str(k): v for k, v in config.items()}


def model_of(config: Mapping[str, Any]) -> str | None:
    return config.get(MODEL) or None


def params_of(config: Mapping[str, Any]) -> dict[str, Any]:
    """The LLM options of a config (everything but ``model``)."""
    return {k: v for k, v in config.items() if k != MODEL}


DEFAULT_PARAMS: dict[str, Any] = {"temperature": 0.7, "max_tokens": 1024}
"""What an application runs with when neither it nor its version's config says."""


def merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """LLM options from the lowest precedence to the highest (``merge(defaults, version
    config, application, request)``); a ``None`` value in a layer sets nothing."""
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in (layer or {}).items():
            if v is not None:
                out[k] = v
    return out


def in_effect(config: Mapping[str, Any], *, model: str | None = None,
              params: Mapping[str, Any] | None = None) -> tuple[str | None, dict[str, Any]]:
    """The model and LLM options a version runs with under an application (its ``model``
    and ``params``, ``None`` = unset): the application's over the version's config over
    :data:`DEFAULT_PARAMS` (a request's own options go over these, where it is made)."""
    layers = [params_of(config), params or {}]
    defaults = dict(DEFAULT_PARAMS)
    if any("max_completion_tokens" in layer for layer in layers):
        defaults.pop("max_tokens")  # the newer name of the same bound: never both
    return (model or model_of(config)), merge(defaults, *layers)
