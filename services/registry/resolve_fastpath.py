"""``GET /applications/{id}/resolved`` answered from the resolve cache before FastAPI.

Every downstream app calls this endpoint, and nearly every call is a cache hit. Through
FastAPI such a hit spent about 85 % of its CPU in routing over ~150 routes and solving the
route's dependencies, and 5 % in the answer itself. This pure ASGI layer answers a hit
directly: the same authentication (:meth:`Authenticator.identify`, same role), the same
body, ETag, ``Cache-Control`` and 304 as the route. Everything else falls through to the
route unchanged: a miss (the route loads and fills the cache), a name instead of an id,
any query string (``as_of``, ...), another method, and every error (no key, an unknown
key, a role too low), so errors keep their one implementation and their problem+json.
"""

from __future__ import annotations

import re

from starlette.requests import Request

from harness.web.problems import ProblemError

_PATH = re.compile(
    r"/applications/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12})/resolved")


class ResolveFastPath:
    """Pure ASGI, placed inside the correlation and request-limit middlewares (their work
    still applies) and outside FastAPI's exception handling and router."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if (scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]
                or (match := _PATH.fullmatch(scope["path"])) is None):
            return await self.app(scope, receive, send)
        rt = getattr(scope["app"].state, "runtime", None)
        hit = rt.resolve_cache.get(match.group(1)) if rt is not None else None
        if hit is None:
            return await self.app(scope, receive, send)
        request = Request(scope)
        try:
            owner = await rt.auth.identify(request)
        except ProblemError:
            return await self.app(scope, receive, send)  # the route answers the error
        if not owner.allows("viewer"):
            return await self.app(scope, receive, send)
        body, etag = hit
        headers = [(b"etag", etag.encode("latin-1")), (b"cache-control", b"no-cache")]
        if request.headers.get("if-none-match") == etag:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-length", str(len(body)).encode("latin-1")),
            (b"content-type", b"application/json"), *headers]})
        await send({"type": "http.response.body", "body": body})
