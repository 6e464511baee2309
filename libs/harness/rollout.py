"""Weighted rollout: an environment split between prompt versions, picked per stickiness key.

One function decides which variant a key gets, so the registry (``resolved?key=``), the
gateway (``app/<name>``) and the client SDK (which picks locally from the cached split)
always agree: the SHA-256 of ``(prompt id, environment, key)`` mapped to a point in
[0, 1), placed against the variants' cumulative weights. The same key always gets the
same variant while the split stands; changing the weights moves only the keys whose
point falls in the part of [0, 1) that changed hands.

A split's ``sticky_by`` says where the gateway finds the key of a request:

- ``user``: the OpenAI ``user`` field (the end user's id) — the default;
- ``metadata.<name>``: a field of the request's ``metadata`` object;
- ``header:<name>``: a request header.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_STICKY_BY = "user"
MAX_VARIANTS = 20
_STICKY = re.compile(r"^(user|metadata\.[A-Za-z0-9_-]{1,64}|header:[A-Za-z0-9-]{1,64})$")
_SEP = "\x1f"  # never in an id or environment name: (a, bc) and (ab, c) hash apart


class SplitInvalid(ValueError):
    """A split that cannot stand; ``field`` names what is wrong (``variants[1].weight``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def point(prompt_id: str, environment: str, key: str) -> float:
    """Where ``key`` falls in [0, 1) for this prompt's environment (uniform, stable)."""
    digest = hashlib.sha256(_SEP.join((prompt_id, environment, key)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def pick(variants: Sequence[Mapping[str, Any]], prompt_id: str, environment: str,
         key: str) -> Mapping[str, Any]:
    """The variant (``{"version", "weight", ...}``) that ``key`` gets: the first whose
    cumulative share of the total weight lies above the key's point."""
    if not variants:
        raise ValueError("a split has variants")
    total = float(sum(v["weight"] for v in variants))
    x = point(prompt_id, environment, key) * total
    upto = 0.0
    for v in variants:
        upto += float(v["weight"])
        if x < upto:
            return v
    return variants[-1]  # x == total cannot happen (point < 1); guards float rounding


def validate(variants: Any, sticky_by: Any = DEFAULT_STICKY_BY) -> tuple[list[dict], str]:
    """The split's variants (``[{"version": int, "weight": number}]``, in the order given)
    and ``sticky_by``, checked: at least two variants, distinct versions, positive weights
    that sum to 100 (percentages) or to 1 (fractions). Raises :class:`SplitInvalid`."""
    if not isinstance(variants, list) or len(variants) < 2:
        raise SplitInvalid("variants: a split needs at least two variants", "variants")
    if len(variants) > MAX_VARIANTS:
        raise SplitInvalid(f"variants: at most {MAX_VARIANTS}", "variants")
    out: list[dict] = []
    seen: set[int] = set()
    for i, v in enumerate(variants):
        where = f"variants[{i}]"
        if not isinstance(v, Mapping):
            raise SplitInvalid(f"{where}: an object with version and weight", where)
        unknown = set(v) - {"version", "weight"}
        if unknown:
            raise SplitInvalid(f"{where}: unknown field(s) {', '.join(sorted(unknown))}",
                               where)
        version, weight = v.get("version"), v.get("weight")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SplitInvalid(f"{where}.version: a version number (1 or more)",
                               f"{where}.version")
        if version in seen:
            raise SplitInvalid(f"{where}.version: version {version} is already a variant",
                               f"{where}.version")
        if (isinstance(weight, bool) or not isinstance(weight, int | float)
                or not math.isfinite(weight) or weight <= 0):
            raise SplitInvalid(f"{where}.weight: a positive number", f"{where}.weight")
        seen.add(version)
        out.append({"version": version, "weight": weight})
    total = sum(v["weight"] for v in out)
    if not (math.isclose(total, 100, abs_tol=1e-6) or math.isclose(total, 1, abs_tol=1e-9)):
        raise SplitInvalid(f"variants: the weights sum to {total:g}; they must sum to 100 "
                           "(percent) or 1", "variants")
    if not isinstance(sticky_by, str) or not _STICKY.match(sticky_by):
        raise SplitInvalid("sticky_by: 'user', 'metadata.<field>' or 'header:<name>'",
                           "sticky_by")
    return out, sticky_by


def share(variant: Mapping[str, Any], variants: Sequence[Mapping[str, Any]]) -> float:
    """The variant's fraction of the traffic (its weight over the total)."""
    return float(variant["weight"]) / float(sum(v["weight"] for v in variants))


def key_of(sticky_by: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """A request's stickiness key as ``sticky_by`` says (None when it has none)."""
    if sticky_by.startswith("header:"):
        value: Any = headers.get(sticky_by[len("header:"):].lower())
    elif sticky_by.startswith("metadata."):
        metadata = body.get("metadata")
        value = metadata.get(sticky_by[len("metadata."):]) if isinstance(metadata, Mapping) \
            else None
    else:
        value = body.get(sticky_by)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and value else None


_NOT_VERSION_FIELDS = frozenset({"weight", "share"})


def for_key(resolved: Mapping[str, Any], key: str | None) -> dict[str, Any]:
    """A resolved application (the registry's ``resolved`` answer, as a dict) for the
    stickiness ``key``: when its environment is split (``split``), the key's variant's
    version fields (``version``, ``content``, ...) replace the top-level ones and
    ``variant`` says which it got; without a split, or without a key, it is unchanged
    (the environment's own version)."""
    split = resolved.get("split")
    if not key or not split:
        return dict(resolved)
    variants = split["variants"]
    chosen = pick(variants, str(resolved["prompt_id"]), str(resolved["environment"]), key)
    out = dict(resolved)
    out.update({k: v for k, v in chosen.items() if k not in _NOT_VERSION_FIELDS})
    out["variant"] = {"version": chosen["version"], "weight": chosen["weight"],
                      "share": share(chosen, variants)}
    return out
