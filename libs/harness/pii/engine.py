"""Engines: the built-in regex+validator engine and the ``Engine`` protocol."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from .detectors import DETECTORS, resolve_overlaps
from .models import KINDS, Finding


def normalize_kinds(kinds: Iterable[str] | str | None) -> tuple[str, ...]:
    """``None`` → every kind; otherwise the given kinds, validated, in :data:`KINDS` order."""
    if kinds is None:
        return KINDS
    if isinstance(kinds, str):
        kinds = [kinds]
    wanted = {k.strip().lower() for k in kinds}
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s): {', '.join(unknown)}; "
                         f"known: {', '.join(KINDS)}")
    return tuple(k for k in KINDS if k in wanted)


@runtime_checkable
class Engine(Protocol):
    """Anything that finds PII: ``detect(text, kinds) -> non-overlapping findings``."""

    name: str

    def detect(self, text: str, kinds: Iterable[str] | str | None = None) -> list[Finding]:
        ...


class BuiltinEngine:
    """Regular expressions plus validators (dates, checksums, octets, context words).

    Overlaps are resolved over *all* kinds before filtering to ``kinds``, so asking for
    ``account`` never reports a phone number that happens to sit next to "입금".
    """

    name = "builtin"

    def detect(self, text: str, kinds: Iterable[str] | str | None = None) -> list[Finding]:
        wanted = normalize_kinds(kinds)
        if not text:
            return []
        candidates: list[Finding] = []
        for kind in KINDS:
            candidates.extend(DETECTORS[kind](text))
        found = resolve_overlaps(candidates)
        if wanted is KINDS:
            return found
        keep = set(wanted)
        return [f for f in found if f.kind in keep]


BUILTIN = BuiltinEngine()
