"""Value types of the PII package: kinds, findings, results and the block error."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

PHONE = "phone"
EMAIL = "email"
RRN = "rrn"
CARD = "card"
ACCOUNT = "account"
IP = "ip"
PASSPORT = "passport"
DRIVER_LICENSE = "driver_license"

#: Every kind the built-in engine knows, in overlap priority order (most specific first):
#: when two candidates cover exactly the same characters, the earlier kind wins.
KINDS: tuple[str, ...] = (RRN, CARD, DRIVER_LICENSE, PASSPORT, PHONE, ACCOUNT, EMAIL, IP)

#: The label used by ``style="label"`` masking.
LABELS: dict[str, str] = {k: f"[{k.upper()}]" for k in KINDS}

Confidence = Literal["high", "medium", "low"]
MaskStyle = Literal["label", "hash", "partial"]
Policy = Literal["off", "mask", "block"]

_CONFIDENCE_RANK = {"high": 3, "medium": 2, "low": 1}


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected value: ``text == source[start:end]``.

    ``validated`` is true when a checksum or structural rule beyond the shape itself
    passed (Luhn for cards, the RRN check digit, octet ranges for IPs, ...);
    ``confidence`` summarises how sure the detector is (``high`` / ``medium`` / ``low``).
    """

    kind: str
    start: int
    end: int
    text: str
    confidence: Confidence = "high"
    validated: bool = False
    detector: str = "builtin"

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    def as_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "confidence": self.confidence,
            "validated": self.validated,
            "detector": self.detector,
        }
        if include_text:
            out["text"] = self.text
        return out


def count_kinds(findings: list[Finding]) -> dict[str, int]:
    """``{kind: n}`` in :data:`KINDS` order (unknown kinds last, alphabetically)."""
    c = Counter(f.kind for f in findings)
    order = {k: i for i, k in enumerate(KINDS)}
    return {k: c[k] for k in sorted(c, key=lambda k: (order.get(k, len(order)), k))}


@dataclass(frozen=True, slots=True)
class MaskResult:
    """The masked text, what was masked (offsets refer to the *original* text), counts."""

    text: str
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.findings)

    @property
    def kinds(self) -> list[str]:
        return list(self.counts)

    def as_dict(self, *, include_text: bool = False) -> dict[str, Any]:
        """JSON-ready summary; the original values are left out unless asked for."""
        return {
            "text": self.text,
            "counts": dict(self.counts),
            "findings": [f.as_dict(include_text=include_text) for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """Outcome of :func:`harness.pii.apply_policy` when the text may go on.

    ``action`` is ``"none"`` (policy off), ``"passed"`` (nothing found) or ``"masked"``.
    """

    text: str
    policy: Policy
    action: Literal["none", "passed", "masked"]
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.action == "masked"


PROBLEM_TYPE = "urn:harness:problem:pii-blocked"


class PIIBlocked(Exception):
    """Raised by ``apply_policy(..., "block")`` when personal data is found.

    ``kinds`` lists the kinds found (no values); :meth:`problem` renders the RFC 9457
    body the gateway returns with status 422.
    """

    status = 422

    def __init__(self, kinds: list[str], counts: dict[str, int] | None = None,
                 *, where: str | None = None) -> None:
        self.kinds = list(kinds)
        self.counts = dict(counts or {k: 1 for k in kinds})
        self.where = where
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        found = ", ".join(f"{k} ({self.counts.get(k, 1)})" for k in self.kinds)
        at = f" in {self.where}" if self.where else ""
        return f"personal data found{at}: {found}; the policy for this key is 'block'"

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE,
            "title": "Request blocked: personal data found",
            "status": self.status,
            "detail": self.detail,
            "kinds": self.kinds,
            "counts": self.counts,
        }
        if self.where:
            body["where"] = self.where
        return body


def confidence_rank(c: str) -> int:
    return _CONFIDENCE_RANK.get(c, 0)
