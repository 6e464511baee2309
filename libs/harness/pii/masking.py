"""Masking styles: ``label`` (``[PHONE]``), ``hash`` (``[PHONE:1a2b3c4d]``), ``partial``."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from .models import ACCOUNT, CARD, EMAIL, IP, LABELS, PHONE, RRN, Finding
from .validators import digits_of

STYLES = ("label", "hash", "partial")


def normalized_value(f: Finding) -> str:
    """The value a hash token is computed from: equal values in different spellings
    (``+82 10-1234-5678`` / ``01012345678``, ``A@B.com`` / ``a@b.com``) hash alike."""
    if f.kind == PHONE:
        d = digits_of(f.text)
        if f.text.lstrip().startswith("+82"):
            d = d[2:]
            if not d.startswith("0"):
                d = "0" + d
        return d
    if f.kind == EMAIL:
        return f.text.lower()
    if f.kind == IP:
        try:
            return ipaddress.ip_address(f.text).compressed
        except ValueError:
            return f.text.lower()
    if f.kind in (RRN, CARD, ACCOUNT):
        return digits_of(f.text)
    return "".join(ch for ch in f.text if ch.isalnum()).upper()


def hash_token(f: Finding, salt: bytes | str = b"") -> str:
    key = salt.encode() if isinstance(salt, str) else salt
    msg = f"{f.kind}:{normalized_value(f)}".encode()
    digest = (hmac.new(key, msg, hashlib.sha256) if key else hashlib.sha256(msg)).hexdigest()
    return f"[{f.kind.upper()}:{digest[:8]}]"


def _star(text: str, keep: set[int], maskable=str.isalnum) -> str:
    return "".join(ch if i in keep or not maskable(ch) else "*" for i, ch in enumerate(text))


def _digit_positions(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if "0" <= ch <= "9"]


def partial(f: Finding) -> str:
    """Keep what identifies the *kind* of value but not the value itself."""
    t = f.text
    if f.kind == EMAIL:
        local, _, domain = t.partition("@")
        return local[:1] + "*" * (len(local) - 1) + "@" + domain
    if f.kind == PHONE:
        pos = _digit_positions(t)
        runs: list[list[int]] = []
        for i in pos:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        if len(runs) >= 3:  # mask the group before the last one (the exchange)
            hidden = set(runs[-2])
        else:
            hidden = set(pos[-8:-4]) if len(pos) >= 10 else set(pos[-7:-4])
        return "".join("*" if i in hidden else ch for i, ch in enumerate(t))
    if f.kind == RRN:  # birth date and the gender digit stay, the serial goes
        pos = _digit_positions(t)
        return _star(t, set(pos[:7]))
    if f.kind in (CARD, ACCOUNT):
        pos = _digit_positions(t)
        return _star(t, set(pos[-4:]))
    if f.kind == IP:
        if ":" in t:
            first = t.split(":", 1)[0]
            return first + _star(t[len(first):], set())
        a, b, _, _ = t.split(".")
        return f"{a}.{b}.*.*"
    # passport, driver_license and anything else: first two characters stay
    return _star(t, {0, 1})


def replacement(f: Finding, style: str, salt: bytes | str = b"") -> str:
    if style == "label":
        return LABELS.get(f.kind, f"[{f.kind.upper()}]")
    if style == "hash":
        return hash_token(f, salt)
    if style == "partial":
        return partial(f)
    raise ValueError(f"unknown mask style {style!r}; use one of: {', '.join(STYLES)}")


def apply_mask(text: str, findings: list[Finding], style: str, salt: bytes | str = b"") -> str:
    if style not in STYLES:
        raise ValueError(f"unknown mask style {style!r}; use one of: {', '.join(STYLES)}")
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[pos:f.start])
        out.append(replacement(f, style, salt))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
