"""The built-in detectors, one function per kind: ``(text) -> iterator of Finding``.

Each yields candidates independently; :func:`resolve_overlaps` picks among them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from . import patterns as P
from .models import (
    ACCOUNT,
    CARD,
    DRIVER_LICENSE,
    EMAIL,
    IP,
    KINDS,
    PASSPORT,
    PHONE,
    RRN,
    Finding,
)
from .validators import (
    card_iin_known,
    digits_of,
    ipv4_valid,
    luhn_valid,
    rrn_birth_date_valid,
    rrn_checksum_valid,
)

Detector = Callable[[str], Iterator[Finding]]


def _has_context(text: str, start: int, end: int, words: re.Pattern[str],
                 before: int = 30, after: int = 12) -> bool:
    window = text[max(0, start - before):start] + " " + text[end:end + after]
    return words.search(window) is not None


def _last_index(window: str, words: re.Pattern[str]) -> int:
    last = -1
    for m in words.finditer(window):
        last = m.start()
    return last


def _version_before(text: str, start: int) -> bool:
    return P.VERSION_BEFORE.search(text[max(0, start - 16):start]) is not None


_DIGIT = re.compile(r"[0-9]")


def _has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


def detect_phone(text: str) -> Iterator[Finding]:
    if not _has_digit(text):
        return
    for m in P.PHONE.finditer(text):
        separated = bool(m["s1"] or m["s2"] or m["intl"] or m["pp"])
        if "." in (m["s1"], m["s2"]):
            if m["s1"] != m["s2"]:  # "02.1234-5678" reads like a code
                continue
            if _version_before(text, m.start()):  # "버전 02.123.4567"
                continue
        prefix = m["np"] or m["pp"] or ("0" + m["ip"])
        mobile = prefix.startswith("01")
        if mobile and prefix == "010" and len(m["mid"]) == 3 and not separated:
            # "0101234567": 10 digits starting 010 is not a current mobile number
            continue
        confidence = "high" if (separated or mobile) else "medium"
        yield Finding(PHONE, m.start(), m.end(), m.group(), confidence, True)


def detect_email(text: str) -> Iterator[Finding]:
    if "@" not in text:
        return
    for m in P.EMAIL.finditer(text):
        local = m.group().split("@", 1)[0]
        if ".." in local or m["tld"].lower() in P.FILE_EXTENSIONS:
            continue
        yield Finding(EMAIL, m.start(), m.end(), m.group(), "high", False)


def detect_rrn(text: str) -> Iterator[Finding]:
    if not _has_digit(text):
        return
    for m in P.RRN.finditer(text):
        digits = m["a"] + m["b"]
        if not rrn_birth_date_valid(digits):
            continue
        checksum = rrn_checksum_valid(digits)
        hyphen = m["sep"] is not None and "-" in m["sep"]
        if hyphen:
            confidence = "high" if checksum else "medium"
        else:
            context = _has_context(text, m.start(), m.end(), P.RRN_CONTEXT)
            if not (checksum or context):
                continue
            confidence = "high" if checksum and context else "medium"
        yield Finding(RRN, m.start(), m.end(), m.group(), confidence, checksum)


def _card_layout(groups: list[str]) -> bool:
    """Groupings printed on cards: 4-4-4-4(-1..4) and 4-6-4 / 4-6-5 (Diners, Amex).
    Anything else (4-3-6, 4-2-7, ...) is how Korean bank accounts are written."""
    sizes = [len(g) for g in groups]
    if sizes in ([4, 6, 4], [4, 6, 5]):
        return True
    return all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _card_candidate(body: str, sep: str) -> tuple[int, str, bool] | None:
    """Longest valid prefix (in whole groups) of a card-shaped match: (len, conf, iin)."""
    if sep:
        groups = body.split(sep)
        if len(groups[0]) != 4:
            return None
        for n in range(len(groups), 1, -1):
            part = groups[:n]
            digits = "".join(part)
            if not 13 <= len(digits) <= 19 or not _card_layout(part):
                continue
            if luhn_valid(digits):
                iin = card_iin_known(digits)
                return (len(sep.join(part)), "high" if iin else "medium", iin)
        return None
    if 13 <= len(body) <= 19 and luhn_valid(body) and card_iin_known(body):
        return (len(body), "high", True)
    return None


def detect_card(text: str) -> Iterator[Finding]:
    if not _has_digit(text):
        return
    for m in P.CARD.finditer(text):
        got = _card_candidate(m["body"], m["sep"])
        if got is None:
            continue
        length, confidence, _ = got
        start = m.start("body")
        end = start + length
        if end != m.end("body") and text[end:end + 1] == m["sep"] == "-":
            continue  # "1234-...-9012-3456-77": a dashed code, not a card plus a number
        yield Finding(CARD, start, end, text[start:end], confidence, True)


def detect_account(text: str) -> Iterator[Finding]:
    if not _has_digit(text):
        return
    for m in P.ACCOUNT.finditer(text):
        body = m["body"]
        n = len(digits_of(body))
        if not 10 <= n <= 14:
            continue
        near = _has_context(text, m.start(), m.end(), P.ACCOUNT_CONTEXT)
        if not near:
            continue
        before = text[max(0, m.start() - 30):m.start()]
        if _last_index(before, P.OTHER_ID_CONTEXT) > _last_index(before, P.ACCOUNT_CONTEXT):
            continue
        if "-" not in body and not _has_context(text, m.start(), m.end(), P.ACCOUNT_CONTEXT,
                                                before=15, after=0):
            continue  # a bare digit run needs the word right before it
        yield Finding(ACCOUNT, m.start(), m.end(), body, "medium" if "-" in body else "low",
                      False)


def detect_ip(text: str) -> Iterator[Finding]:
    if "." in text and _has_digit(text):
        for m in P.IPV4.finditer(text):
            if not ipv4_valid(m["body"]):
                continue
            if _version_before(text, m.start()):
                continue
            yield Finding(IP, m.start(), m.end(), m.group(), "high", True)
    if "::" in text or text.count(":") >= 7:
        for m in P.IPV6.finditer(text):
            body = m["body"]
            try:
                ipaddress.IPv6Address(body)
            except ValueError:
                continue
            groups = [g for g in body.split(":") if g]
            if "::" in body and not any(len(g) >= 3 for g in groups):
                continue  # "::1", "1::2": slice syntax and the like, not worth a finding
            yield Finding(IP, m.start(), m.end(), body, "high", True)


def detect_passport(text: str) -> Iterator[Finding]:
    if not _has_digit(text):
        return
    for m in P.PASSPORT.finditer(text):
        if _has_context(text, m.start(), m.end(), P.PASSPORT_CONTEXT, before=25, after=5):
            yield Finding(PASSPORT, m.start(), m.end(), m.group(), "medium", False)


def detect_driver_license(text: str) -> Iterator[Finding]:
    if not _has_digit(text):
        return
    for m in P.DRIVER_LICENSE.finditer(text):
        yield Finding(DRIVER_LICENSE, m.start(), m.end(), m.group(), "high", True)


DETECTORS: dict[str, Detector] = {
    PHONE: detect_phone,
    EMAIL: detect_email,
    RRN: detect_rrn,
    CARD: detect_card,
    ACCOUNT: detect_account,
    IP: detect_ip,
    PASSPORT: detect_passport,
    DRIVER_LICENSE: detect_driver_license,
}
assert set(DETECTORS) == set(KINDS)

_PRIORITY = {k: i for i, k in enumerate(KINDS)}


def resolve_overlaps(candidates: list[Finding]) -> list[Finding]:
    """Keep a non-overlapping subset, deterministically.

    Longest span first; on equal length the more specific kind (order of
    :data:`~harness.pii.models.KINDS`), then the higher confidence, then the built-in
    detector over another engine's equal finding. The result is sorted by position.
    """
    rank = {"high": 0, "medium": 1, "low": 2}
    ordered = sorted(
        candidates,
        key=lambda f: (-(f.end - f.start), _PRIORITY.get(f.kind, len(_PRIORITY)),
                       rank.get(f.confidence, 3), f.start, f.kind, f.detector != "builtin",
                       f.detector),
    )
    kept: list[Finding] = []
    for f in ordered:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    kept.sort(key=lambda f: (f.start, f.end))
    return kept
