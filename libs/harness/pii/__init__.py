"""Detection and masking of personal data (pure: no I/O).

>>> mask("연락처 010-1234-5678, hong@example.com").text
'연락처 [PHONE], [EMAIL]'

Kinds: ``phone`` (Korean mobile, landline, 070/050x/080, ``+82``), ``email``, ``rrn``
(resident/foreign registration number), ``card`` (Luhn), ``account`` (bank-account-like
numbers next to a word such as 계좌/입금/account), ``ip`` (v4 and v6), ``passport``
(next to 여권/passport) and ``driver_license``. See ``harness/pii/README.md`` for the
rules and the precision trade-offs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .engine import BUILTIN, BuiltinEngine, Engine, normalize_kinds
from .masking import STYLES, apply_mask, hash_token, partial
from .models import (
    KINDS,
    LABELS,
    PROBLEM_TYPE,
    Finding,
    MaskResult,
    MaskStyle,
    PIIBlocked,
    Policy,
    PolicyResult,
    count_kinds,
)
from .presidio import PresidioEngine, presidio_available
from .validators import luhn_valid, rrn_birth_date_valid, rrn_checksum_valid

POLICIES: tuple[str, ...] = ("off", "mask", "block")


def detect(text: str, kinds: Iterable[str] | str | None = None, *,
           engine: Engine | None = None) -> list[Finding]:
    """Non-overlapping findings in ``text`` ordered by position (``None`` = all kinds)."""
    return (engine or BUILTIN).detect(text, kinds)


def mask(text: str, kinds: Iterable[str] | str | None = None, *, style: MaskStyle = "label",
         salt: bytes | str = b"", engine: Engine | None = None) -> MaskResult:
    """Replace every finding: ``label`` → ``[PHONE]``; ``hash`` → ``[PHONE:1a2b3c4d]``
    (SHA-256, or HMAC-SHA-256 with ``salt``, of the normalised value, so one value keeps
    one token across messages); ``partial`` → ``010-****-5678``, ``h***@example.com``."""
    if style not in STYLES:
        raise ValueError(f"unknown mask style {style!r}; use one of: {', '.join(STYLES)}")
    findings = detect(text, kinds, engine=engine)
    if not findings:
        return MaskResult(text, [], {})
    return MaskResult(apply_mask(text, findings, style, salt), findings, count_kinds(findings))


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown PII policy {policy!r}; use one of: {', '.join(POLICIES)}")


def apply_policy(text: str, policy: Policy, kinds: Iterable[str] | str | None = None, *,
                 style: MaskStyle = "label", salt: bytes | str = b"",
                 engine: Engine | None = None, where: str | None = None) -> PolicyResult:
    """``off``: text untouched, nothing detected. ``mask``: findings masked.
    ``block``: raises :class:`PIIBlocked` naming the kinds found (the gateway's 422);
    text without findings passes unchanged. ``where`` names the place in the problem
    detail (e.g. ``"messages[2].content"``)."""
    _check_policy(policy)
    if policy == "off":
        return PolicyResult(text, "off", "none")
    if policy == "block":
        findings = detect(text, kinds, engine=engine)
        if findings:
            counts = count_kinds(findings)
            raise PIIBlocked(list(counts), counts, where=where)
        return PolicyResult(text, "block", "passed")
    result = mask(text, kinds, style=style, salt=salt, engine=engine)
    return PolicyResult(result.text, "mask", "masked" if result.changed else "passed",
                        result.findings, result.counts)


def apply_policy_many(texts: Sequence[str], policy: Policy,
                      kinds: Iterable[str] | str | None = None, *, style: MaskStyle = "label",
                      salt: bytes | str = b"", engine: Engine | None = None,
                      where: str | None = None) -> list[PolicyResult]:
    """:func:`apply_policy` over several texts (e.g. every message of a chat request).
    Under ``block`` all texts are checked first and one :class:`PIIBlocked` names every
    kind found in any of them."""
    _check_policy(policy)
    if policy == "block":
        total: list[Finding] = []
        for t in texts:
            total.extend(detect(t, kinds, engine=engine))
        if total:
            counts = count_kinds(total)
            raise PIIBlocked(list(counts), counts, where=where)
        return [PolicyResult(t, "block", "passed") for t in texts]
    return [apply_policy(t, policy, kinds, style=style, salt=salt, engine=engine)
            for t in texts]


__all__ = [
    "BUILTIN",
    "KINDS",
    "LABELS",
    "POLICIES",
    "PROBLEM_TYPE",
    "STYLES",
    "BuiltinEngine",
    "Engine",
    "Finding",
    "MaskResult",
    "MaskStyle",
    "PIIBlocked",
    "Policy",
    "PolicyResult",
    "PresidioEngine",
    "apply_policy",
    "apply_policy_many",
    "count_kinds",
    "detect",
    "hash_token",
    "luhn_valid",
    "mask",
    "normalize_kinds",
    "partial",
    "presidio_available",
    "rrn_birth_date_valid",
    "rrn_checksum_valid",
]
