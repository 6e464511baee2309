"""Verify the OIDC token Pub/Sub puts on push requests (``Authorization: Bearer <JWT>``).

With a push subscription's ``oidc_token`` set, Pub/Sub signs a JWT with Google's keys whose
``aud`` is the configured audience and whose ``email`` is the subscription's service
account. ``PushTokenVerifier`` checks the signature and expiry (google-auth's
``id_token.verify_token``), the audience, the issuer, and ``email`` == the expected
service account with ``email_verified``.

Verification is on when an audience is configured (``HARNESS_PUSH_AUDIENCE``); without one
every request is accepted (local runs, where push is not used). The certificate URL is
configurable (Google's PEM format, ``{key id: x509 PEM}``, as at the default URL; a JWK
set needs the ``pyjwt`` package): tests serve their own PEM certificates on loopback.
Certificates are cached (the response's ``max-age``, else ``cache_seconds``) and re-fetched
once when a token names an unknown key id (key rotation).

Failures: a missing, malformed, badly signed, expired or wrong-audience token is a 401;
a valid token from another identity (email, unverified email) is a 403; certificates that
cannot be fetched are a 503 (Pub/Sub retries).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
import structlog
from google.oauth2 import id_token

from harness.config import Settings

log = structlog.get_logger(__name__)

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")


class PushAuthError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class _CachedResponse:
    """What google-auth's transport ``Request`` returns, served from our cache."""

    def __init__(self, data: bytes) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.data = data


class PushTokenVerifier:
    def __init__(
        self,
        audience: str | None,
        service_account: str | None = None,
        *,
        certs_url: str = GOOGLE_CERTS_URL,
        issuers: Sequence[str] = GOOGLE_ISSUERS,
        cache_seconds: float = 3600.0,
        clock_skew_seconds: int = 10,
        http_timeout: float = 5.0,
    ) -> None:
        self.audience = audience
        self.service_account = service_account
        self.certs_url = certs_url
        self.issuers = tuple(issuers)
        self.cache_seconds = cache_seconds
        self.clock_skew_seconds = clock_skew_seconds
        self.http_timeout = http_timeout
        self._certs: bytes | None = None
        self._expires = 0.0
        self._forced_at = -1e9
        self.refetch_interval = 60.0
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> PushTokenVerifier:
        return cls(settings.push_audience, settings.push_service_account, **kwargs)

    @property
    def enabled(self) -> bool:
        return bool(self.audience)

    async def _fetch_certs(self, force: bool = False) -> bytes:
        async with self._lock:
            if not force and self._certs is not None and time.monotonic() < self._expires:
                return self._certs
            try:
                async with httpx.AsyncClient(timeout=self.http_timeout) as http:
                    resp = await http.get(self.certs_url)
                resp.raise_for_status()
                orjson.loads(resp.content)  # must be JSON
            except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
                raise PushAuthError(503, f"cannot fetch token certificates: {exc}") from None
            max_age = re.search(r"max-age=(\d+)", resp.headers.get("cache-control", ""))
            ttl = float(max_age.group(1)) if max_age else self.cache_seconds
            self._certs = resp.content
            self._expires = time.monotonic() + ttl
            return self._certs

    def _verify_with(self, token: str, certs: bytes) -> dict[str, Any]:
        def request(url: str, method: str = "GET", **_kw: Any) -> _CachedResponse:
            return _CachedResponse(certs)

        return id_token.verify_token(
            token, request, audience=self.audience, certs_url=self.certs_url,
            clock_skew_in_seconds=self.clock_skew_seconds,
        )

    async def verify(self, authorization: str | None) -> dict[str, Any] | None:
        """Check an ``Authorization`` header value; returns the claims (None when disabled)."""
        if not self.enabled:
            return None
        if not authorization:
            raise PushAuthError(401, "missing Authorization header (Bearer token expected)")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise PushAuthError(401, "Authorization header must be 'Bearer <token>'")
        certs = await self._fetch_certs()
        try:
            try:
                claims = self._verify_with(token, certs)
            except ValueError as exc:
                # an unknown key id: Google rotated its keys (re-fetched at most once a minute,
                # so made-up key ids cannot turn every request into a fetch)
                if "not found" not in str(exc).lower() or \
                        time.monotonic() - self._forced_at < self.refetch_interval:
                    raise
                self._forced_at = time.monotonic()
                claims = self._verify_with(token, await self._fetch_certs(force=True))
        except (ImportError, PushAuthError):  # JWK certs without pyjwt; certs unavailable
            raise
        except Exception as exc:  # ValueError, GoogleAuthError: bad signature, claims, expiry
            raise PushAuthError(401, f"invalid push token: {exc}") from None
        if claims.get("iss") not in self.issuers:
            raise PushAuthError(401, f"invalid push token: issuer {claims.get('iss')!r} "
                                     f"is not one of {list(self.issuers)}")
        if self.service_account:
            if claims.get("email") != self.service_account:
                raise PushAuthError(403, f"push token is for {claims.get('email')!r}, "
                                         f"expected {self.service_account!r}")
            if claims.get("email_verified") is not True:
                raise PushAuthError(403, "push token's email is not verified")
        return claims
