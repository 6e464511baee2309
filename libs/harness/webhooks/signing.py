"""Webhook signatures: HMAC-SHA256 of ``<timestamp>.<body>`` with the subscription's secret.

Every delivery carries ``X-Harness-Signature: t=<unix seconds>,v1=<hex digest>``. A
receiver recomputes the digest over the timestamp, a dot and the raw body bytes, compares
it in constant time, and refuses a timestamp outside its replay window (5 minutes by
default): a captured request replayed later then fails, and the timestamp cannot be
changed without breaking the digest. The body of a retry is the same; its timestamp and
signature are new. Several ``v1=`` entries may appear (all are checked; one must match).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Harness-Signature"
DEFAULT_TOLERANCE_S = 300
"""The replay window a receiver should allow: a delivery signed longer ago is refused."""


class InvalidSignature(ValueError):  # noqa: N818 - reads as the outcome
    """The header is malformed, the digest does not match, or the timestamp is stale."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Harness-Signature`` value for ``body`` signed now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, t, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            digests.append(value)
    if timestamp is None or not digests:
        raise InvalidSignature("expected t=<unix seconds>,v1=<hex digest>")
    return timestamp, digests


def verify(secret: str, header: str, body: bytes, *,
           tolerance_s: float = DEFAULT_TOLERANCE_S, now: float | None = None) -> int:
    """Check a delivery's ``X-Harness-Signature`` against its raw ``body``; returns the
    signed timestamp, or raises :class:`InvalidSignature`."""
    timestamp, digests = _parse(header)
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, d) for d in digests):
        raise InvalidSignature("the signature does not match the body")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_s:
        raise InvalidSignature(f"the timestamp is outside the {tolerance_s:g} s replay window")
    return timestamp
