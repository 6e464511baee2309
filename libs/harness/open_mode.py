"""When a server may run without authentication ("open mode"), decided in one place.

A registry (or gateway) without API keys treats every caller as an admin; a worker that
does not verify Pub/Sub push tokens runs whatever event anyone posts. That is fine on a
loopback address (one person's machine) and nowhere else. Every entry point (``harness
up``, ``python -m services.<name>``) asks :func:`refusal` before it binds, and all say
the same thing with the same way out: ``--insecure`` or ``HARNESS_INSECURE=1``.
"""

from __future__ import annotations

import ipaddress

INSECURE_HINT = "pass --insecure (or set HARNESS_INSECURE=1) to run open anyway"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(host: str, *, protected: bool, insecure: bool, what: str = "API keys",
            remedy: str = "create one with `harness keys create --name NAME --role admin`"
            ) -> str | None:
    """Why a server bound to ``host`` must not start, or None when it may: it is
    ``protected`` (has keys, verifies tokens), bound to loopback, or told ``insecure``."""
    if protected or insecure or is_loopback(host):
        return None
    return f"refusing to bind {host} without {what}: {remedy}, or {INSECURE_HINT}"


STUDIO_TRUSTED_ACCESS = frozenset({"iap", "private"})


def studio_service_key(api_key: str | None, host: str, *, access: str | None,
                       insecure: bool) -> str | None:
    """The key the studio may act with for *every* visitor, or None.

    A studio given ``HARNESS_API_KEY`` makes each visitor that key's holder, so it may use
    that key only where visitors are already vetted: on loopback (one person's machine),
    behind Identity-Aware Proxy or private ingress (``HARNESS_STUDIO_ACCESS=iap|private``),
    or when told ``insecure``. Anywhere else (a public bind) the key is ignored and each
    visitor signs in with their own API key, so the studio never turns a private key
    into a public editor."""
    if not api_key:
        return None
    if insecure or is_loopback(host) or (access or "").lower() in STUDIO_TRUSTED_ACCESS:
        return api_key
    return None
