"""Optional engine: Microsoft Presidio's analyzer behind the :class:`Engine` interface.

``presidio-analyzer`` is not a dependency; it is imported when a :class:`PresidioEngine`
is created without an analyzer of its own. Presidio knows no Korean formats (mobile
numbers, resident registration numbers, bank accounts), so by default its findings are
merged with the built-in engine's and the same overlap rules pick the winners.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from typing import Any

from .detectors import resolve_overlaps
from .engine import BUILTIN, normalize_kinds
from .models import ACCOUNT, CARD, DRIVER_LICENSE, EMAIL, IP, PASSPORT, PHONE, RRN, Finding

#: Presidio entity type → harness kind.
ENTITY_KINDS: dict[str, str] = {
    "PHONE_NUMBER": PHONE,
    "EMAIL_ADDRESS": EMAIL,
    "CREDIT_CARD": CARD,
    "IP_ADDRESS": IP,
    "KR_RRN": RRN,
    "US_BANK_NUMBER": ACCOUNT,
    "IBAN_CODE": ACCOUNT,
    "US_PASSPORT": PASSPORT,
    "US_DRIVER_LICENSE": DRIVER_LICENSE,
}


def presidio_available() -> bool:
    return importlib.util.find_spec("presidio_analyzer") is not None


def _confidence(score: float) -> str:
    return "high" if score >= 0.85 else "medium" if score >= 0.5 else "low"


class PresidioEngine:
    """Adapter over ``presidio_analyzer.AnalyzerEngine``.

    ``analyzer``: an analyzer to use (anything with Presidio's ``analyze(text=,
    language=, entities=)`` returning objects with ``entity_type``, ``start``, ``end``,
    ``score``); when omitted one is created, which needs ``presidio-analyzer`` and its
    spaCy model. ``combine_builtin``: also run the built-in engine (default true).
    """

    name = "presidio"

    def __init__(self, analyzer: Any = None, *, language: str = "en", min_score: float = 0.5,
                 combine_builtin: bool = True) -> None:
        if analyzer is None:
            if not presidio_available():
                raise ImportError(
                    "PresidioEngine needs the optional package presidio-analyzer "
                    "(pip install presidio-analyzer, plus a spaCy model); "
                    "the built-in engine needs nothing"
                )
            from presidio_analyzer import AnalyzerEngine

            analyzer = AnalyzerEngine()
        self.analyzer = analyzer
        self.language = language
        self.min_score = min_score
        self.combine_builtin = combine_builtin

    def detect(self, text: str, kinds: Iterable[str] | str | None = None) -> list[Finding]:
        wanted = set(normalize_kinds(kinds))
        if not text:
            return []
        entities = sorted(e for e, k in ENTITY_KINDS.items() if k in wanted)
        candidates: list[Finding] = []
        results = self.analyzer.analyze(text=text, language=self.language,
                                        entities=entities) if entities else []
        for r in results:
            kind = ENTITY_KINDS.get(r.entity_type)
            if kind is None or kind not in wanted or r.score < self.min_score:
                continue
            candidates.append(Finding(kind, r.start, r.end, text[r.start:r.end],
                                      _confidence(r.score), False, self.name))
        if self.combine_builtin:
            candidates.extend(BUILTIN.detect(text))
        return [f for f in resolve_overlaps(candidates) if f.kind in wanted]
