"""Steps the model-calling routes (chat, embeddings) share: read the body, call upstream
and account for a failure, read an answer's usage."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

import orjson
from fastapi import Request

from harness.llm import options
from harness.tracing import Trace

from ..budget import Reservation
from ..gateway import Gateway
from ..problems import problem, upstream_problem
from ..routing import Routed, UpstreamError


async def read_body(request: Request, fields: frozenset[str]) -> dict:
    """The JSON body; a field outside the OpenAI request (``api_base``, ``api_key``,
    ``headers``, LiteLLM's own switches, ...) is a 422 naming it: a client never
    chooses where the gateway sends its provider keys."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise problem(400, "bad-json", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise problem(400, "bad-request", "'model' (a string) is required")
    try:
        options.check_options(body, "", fields)
    except options.OptionRefused as exc:
        raise problem(422, "unsupported-field", str(exc), field=exc.field) from exc
    return body


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def spent_on_failure(exc: UpstreamError) -> float | None:
    """What a failed call is charged: nothing when every attempt was refused, its worst
    case (``None``) when one timed out, since a provider bills a request it finished even
    when nobody waited for the answer."""
    timed_out = exc.kind == "timeout" or any(a.get("kind") == "timeout" for a in exc.history)
    return None if timed_out else 0.0


async def call_upstream(gw: Gateway, call: Awaitable[Routed],
                        reservation: Reservation | None, trace: Trace, started: float,
                        *, count_attempts: bool) -> Routed:
    """Await ``call``. When every model failed: settle the reservation with what the
    failure costs, record the failed trace and raise the upstream problem; on anything
    else (a disconnect, a bug): release nothing unknown, charge the worst case."""
    try:
        return await call
    except UpstreamError as exc:
        await gw.settle(reservation, spent_on_failure(exc))
        trace.status, trace.error = exc.http_status, str(exc)[:2000]
        trace.latency_ms = elapsed_ms(started)
        if count_attempts:
            trace.attempts = len(exc.history) or None
        gw.record(trace)
        raise upstream_problem(exc) from exc
    except BaseException:
        await gw.settle(reservation, None)
        raise


def usage_of(obj: Any) -> tuple[int | None, int | None]:
    """``(prompt_tokens, completion_tokens)`` of an answer or chunk; ``None`` when absent."""
    u = getattr(obj, "usage", None)
    if u is None and isinstance(obj, dict):
        u = obj.get("usage")
    if u is None:
        return None, None
    if isinstance(u, dict):
        return u.get("prompt_tokens"), u.get("completion_tokens")
    return getattr(u, "prompt_tokens", None), getattr(u, "completion_tokens", None)


def dump(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=False)
    return dict(obj)
