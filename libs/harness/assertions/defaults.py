"""promptfoo's ``defaultTest``: settings every test starts from."""

from __future__ import annotations

import copy
from typing import Any


def _mapping(d: dict, key: str, where: str) -> dict:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}.{key} must be an object, got {type(value).__name__}")
    return value


def _sequence(d: dict, key: str, where: str) -> list:
    value = d.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where}.{key} must be a list, got {type(value).__name__}")
    return value


def merge_default_test(default: dict | None, test: dict) -> dict:
    """A test with ``defaultTest`` applied, as promptfoo does it:

    - ``vars``, ``options`` and ``metadata``: merged, the test's keys win;
    - ``assert``: the default's assertions first, then the test's;
    - ``threshold``: the test's unless it has none;
    - ``provider`` and every other key: the test's when set, else the default's.

    Neither input is modified.
    """
    default = default or {}
    if not isinstance(default, dict):
        raise ValueError(f"defaultTest must be an object, got {type(default).__name__}")
    if not isinstance(test, dict):
        raise ValueError(f"test must be an object, got {type(test).__name__}")
    merged: dict[str, Any] = copy.deepcopy(default)
    for key, value in test.items():
        if value is not None or key not in merged:
            merged[key] = copy.deepcopy(value)
    merged["vars"] = copy.deepcopy(
        {**_mapping(default, "vars", "defaultTest"), **_mapping(test, "vars", "test")}
    )
    merged["assert"] = copy.deepcopy(
        _sequence(default, "assert", "defaultTest") + _sequence(test, "assert", "test")
    )
    for key in ("options", "metadata"):
        if key in default or key in test:
            merged[key] = copy.deepcopy(
                {**_mapping(default, key, "defaultTest"), **_mapping(test, key, "test")}
            )
    threshold = test.get("threshold")
    merged["threshold"] = threshold if threshold is not None else default.get("threshold")
    if merged["threshold"] is None:
        merged.pop("threshold")
    return merged
