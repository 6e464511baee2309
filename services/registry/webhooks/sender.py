"""One delivery attempt: POST the signed body to the webhook's URL, at an address checked
just now (:func:`harness.webhooks.targets.resolve`), without redirects or proxies."""

from __future__ import annotations

import time
from urllib.parse import urlunsplit

import httpx

from harness.webhooks.targets import IPNetwork, UnsafeTarget, check_url, default_port, resolve

from .store import Outcome

USER_AGENT = "harness-webhooks/1"
MAX_ERROR_CHARS = 500


def client() -> httpx.AsyncClient:
    """The deliverer's HTTP client: no redirects (a 3xx is a failure: a redirect could
    point anywhere) and nothing from the environment (a proxy would be sent the request
    instead of the checked address)."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False,
                             headers={"User-Agent": USER_AGENT})


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def post(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str],
               allowed: tuple[IPNetwork, ...], timeout_s: float) -> Outcome:
    started = time.perf_counter()
    try:
        parts = check_url(url)
        host = parts.hostname or ""
        port = default_port(parts)
        address = (await resolve(host, port, allowed, timeout_s))[0]
    except UnsafeTarget as exc:
        return Outcome(None, f"refused: {exc}"[:MAX_ERROR_CHARS], _elapsed_ms(started))
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    try:
        resp = await http.post(pinned, content=body, timeout=timeout_s,
                               headers={**headers, "Host": host_header,
                                        "Content-Type": "application/json"},
                               extensions=extensions)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Outcome(None, error[:MAX_ERROR_CHARS], _elapsed_ms(started))
    if 200 <= resp.status_code < 300:
        return Outcome(resp.status_code, None, _elapsed_ms(started))
    return Outcome(resp.status_code,
                   f"answered {resp.status_code}: {resp.text[:200]}"[:MAX_ERROR_CHARS],
                   _elapsed_ms(started))
