"""``POST /v1/chat/completions``: authenticate, resolve the target (a model, an alias or
``app/<name>`` with its rendered prompt), mask PII, reserve the budget, route with
fallback, then answer whole or as server-sent events, recording one trace either way."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from harness import content_parts, metrics
from harness.llm import options
from harness.tracing import Trace
from harness.web.problems import ProblemError

from .. import budget as budgets
from .. import openai_errors
from .. import pii as pii_step
from ..budget import Reservation
from ..gateway import Gateway, Target, current_gateway
from ..keys import GatewayKey
from ..problems import pii_blocked_problem, problem
from ..routing import Routed
from ._calls import call_upstream, dump, elapsed_ms, read_body, usage_of

router = APIRouter()


@dataclass
class ChatCall:
    """One chat request, from its checks to its trace."""

    body: dict[str, Any]
    target: Target
    policy: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    reservation: Reservation | None
    trace: Trace
    started: float
    include_usage: bool = False

    @property
    def stream(self) -> bool:
        return bool(self.trace.stream)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request, gw: Gateway = Depends(current_gateway)):
    started = time.perf_counter()
    key = await gw.authenticate(request)
    body = await read_body(request, options.OPENAI_CHAT_FIELDS)
    call = await _prepare(gw, key, body, started, request.headers)
    try:
        routed = await call_upstream(gw, _route(gw, call), call.reservation, call.trace,
                                     started, count_attempts=True)
    except ProblemError as exc:  # every model failed: the failed call's trace is recorded
        _add_target_headers(exc, call.target, {"x-harness-trace-id": str(call.trace.id)})
        raise
    trace = call.trace
    trace.model_answered, trace.attempts = routed.model, routed.attempts
    headers = {"x-harness-model": routed.model, "x-harness-trace-id": str(trace.id),
               "x-harness-attempts": str(routed.attempts), **call.target.headers()}
    if not call.stream:
        return await _answer(gw, call, routed, headers)
    return StreamingResponse(_sse(gw, call, routed), media_type="text/event-stream",
                             headers=headers)


# ---------------------------------------------------------------------- before the call
async def _prepare(gw: Gateway, key: GatewayKey, body: dict, started: float,
                   headers: Mapping[str, str]) -> ChatCall:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise problem(400, "bad-request", "'messages' (a list) is required")
    policy = key.pii_policy or gw.settings.default_pii_policy
    try:
        pii_step.check_messages(messages, policy)
    except pii_step.PartRefused as exc:
        raise problem(422, "bad-content-part", str(exc), param=exc.field,
                      field=exc.field) from exc
    tgt = await gw.target(key, body["model"], body, headers)
    try:
        await gw.rate_limit(key)
        all_messages, params, pii_action = _masked([*tgt.prefix_messages, *messages],
                                                   _params(gw, key, tgt, body), policy)
        reservation = await gw.reserve(key, tgt.chain,
                                       budgets.prompt_tokens_upper_bound(all_messages, params),
                                       _output_bound(params), params)
    except ProblemError as exc:
        _add_target_headers(exc, tgt)
        raise
    trace = Trace(kind="chat", model_requested=body["model"], status=200, latency_ms=0,
                  key_id=key.id, key_name=key.name, application=tgt.application,
                  prompt_id=tgt.prompt_id, prompt_name=tgt.prompt_name,
                  prompt_version=tgt.prompt_version, prompt_references=tgt.prompt_references,
                  user_id=_text(body.get("user")),
                  variant=tgt.headers().get("x-harness-variant"),
                  session_id=_session_of(body),
                  stream=bool(body.get("stream")), pii_action=pii_action, params=params,
                  request=_stored_request(tgt, all_messages, params, policy)
                  if gw.settings.store_bodies else None)
    return ChatCall(body=body, target=tgt, policy=policy, messages=all_messages,
                    params=params, reservation=reservation, trace=trace, started=started)


def _add_target_headers(exc: ProblemError, tgt: Target,
                        extra: dict[str, str] | None = None) -> None:
    """A refusal once the target is known still says which prompt version (and split
    variant) the request got, so a canary failing for its own reasons shows as such."""
    exc.headers = {**tgt.headers(), **(extra or {}), **(exc.headers or {})}


def _stored_request(tgt: Target, messages: list[dict[str, Any]], params: dict[str, Any],
                    policy: str) -> dict[str, Any]:
    """What is stored of the request: the (masked) messages and the parameters, and for an
    ``app/<name>`` call the variables its prompt was rendered with, masked for storage like
    the answer (a trace becomes a test case with them: ``POST /datasets/{id}/cases/
    from-traces``), and the split's variant that served it. Inline images, audio and files
    are stored as a placeholder with their size and hash (``content_parts.omit_binary``);
    image URLs are kept."""
    stored: dict[str, Any] = {"messages": content_parts.omit_binary(messages),
                              "params": params}
    if tgt.variables is not None:
        stored["variables"] = pii_step.mask_value_for_storage(
            content_parts.omit_data_urls(tgt.variables), policy)
    if tgt.variant is not None:
        stored["variant"] = tgt.variant
    return stored


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _session_of(body: dict) -> str | None:
    """``metadata.session_id`` (exported as the span's ``session.id``)."""
    metadata = body.get("metadata")
    return _text(metadata.get("session_id")) if isinstance(metadata, dict) else None


def _masked(messages: list[dict[str, Any]], params: dict[str, Any], policy: str
            ) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """The messages and the options (their ``tools``) under the key's PII policy: what
    the provider receives and the trace stores."""
    try:
        masked, params, action, counts = pii_step.apply_to_request(messages, params, policy)
    except pii_step.PIIUnavailable as exc:
        raise problem(503, "pii-unavailable", f"PII policy {policy!r} needs harness.pii: "
                      f"{exc}") from exc
    except Exception as exc:
        refused = pii_blocked_problem(exc)
        if refused is None:
            raise
        raise refused from exc
    for kind, n in counts.items():
        metrics.gateway_pii_detections.labels(kind).inc(n)
    return masked, params, action


_OUTPUT_BOUNDS = frozenset({"max_tokens", "max_completion_tokens"})


def _params(gw: Gateway, key: GatewayKey, tgt: Target, body: dict) -> dict[str, Any]:
    """The application's LLM options under the request's; a key with a budget gets the
    default output bound when the request sets none."""
    params = dict(tgt.params)
    given = {k: v for k, v in body.items() if k in options.OPENAI_FORWARDED and v is not None}
    if given.keys() & _OUTPUT_BOUNDS:  # one bound, two names: the request's replaces theirs
        for name in _OUTPUT_BOUNDS:
            params.pop(name, None)
    params.update(given)
    if key.has_budget and params.get("max_tokens") is None \
            and params.get("max_completion_tokens") is None:
        params["max_tokens"] = gw.settings.default_max_tokens
    return params


def _output_bound(params: dict[str, Any]) -> int:
    try:
        return budgets.output_tokens_bound(params)
    except budgets.BadBound as exc:
        raise problem(422, "bad-request", str(exc), field=exc.field) from exc


async def _route(gw: Gateway, call: ChatCall) -> Routed:
    body = call.body
    kwargs = {"messages": call.messages, **call.params}
    timeout = body.get("timeout") if isinstance(body.get("timeout"), int | float) else None
    if not call.stream:
        return await gw.router.complete(call.target.chain, kwargs, timeout)
    call.include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    kwargs["stream_options"] = {"include_usage": True}
    return await gw.router.stream(call.target.chain, kwargs, timeout)


# ---------------------------------------------------------------------- a whole answer
async def _answer(gw: Gateway, call: ChatCall, routed: Routed,
                  headers: dict[str, str]) -> Response:
    out = dump(routed.response)
    out["model"] = routed.model
    pt, ct = usage_of(out)
    cost = await gw.settle(call.reservation, gw.cost(routed.model, pt, ct))
    latency = elapsed_ms(call.started)
    trace = call.trace
    trace.latency_ms, trace.ttft_ms = latency, latency
    trace.prompt_tokens, trace.completion_tokens, trace.cost_usd = pt, ct, cost
    trace.finish_reason = out["choices"][0].get("finish_reason") \
        if out.get("choices") else None
    if gw.settings.store_bodies:
        trace.response = {"content": pii_step.mask_for_storage(_text_of(out), call.policy),
                          "finish_reason": trace.finish_reason}
        calls = _calls_of(out)
        if calls:
            trace.response["tool_calls"] = pii_step.mask_calls_for_storage(calls, call.policy)
    gw.record(trace)
    if cost is not None:
        headers["x-harness-cost-usd"] = f"{cost:.10f}"
    return Response(orjson.dumps(out), media_type="application/json", headers=headers)


def _text_of(out: dict) -> str | None:
    try:
        return out["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None


def _calls_of(out: dict) -> list[Any] | None:
    """The answer's tool calls (a legacy ``function_call`` as one call)."""
    try:
        message = out["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(message, dict):
        return None
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        return calls
    fc = message.get("function_call")
    return [{"type": "function", "function": fc}] if isinstance(fc, dict) else None


# ---------------------------------------------------------------------- a stream
@dataclass
class _StreamTally:
    """What a stream said so far: its text, usage, first token time and break."""

    pieces: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # by tool call index
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_at: float | None = None
    error: str | None = None

    def take(self, d: dict, call: ChatCall, model: str) -> dict | None:
        """The chunk to send (``None``: a usage-only chunk the client did not ask for)."""
        d["model"] = model
        if d.get("usage"):
            self.prompt_tokens, self.completion_tokens = usage_of(d)
            if not call.include_usage:
                d.pop("usage", None)
                if not d.get("choices"):
                    return None
        elif "usage" in d:
            d.pop("usage")
        for c in d.get("choices") or []:
            call.trace.finish_reason = c.get("finish_reason") or call.trace.finish_reason
            delta = c.get("delta") or {}
            self._add(delta.get("content"))
            if not c.get("index"):  # the first choice's calls, as a whole answer stores
                self._add_calls(delta)
        return d

    def _add_calls(self, delta: dict) -> None:
        """Tool call deltas joined by index: the id and name once, the arguments in
        pieces (a legacy ``function_call`` delta is call 0)."""
        deltas = delta.get("tool_calls")
        if not isinstance(deltas, list):
            fc = delta.get("function_call")
            deltas = [{"index": 0, "function": fc}] if isinstance(fc, dict) else []
        for t in deltas:
            if not isinstance(t, dict):
                continue
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            index = t.get("index") if isinstance(t.get("index"), int) else 0
            call = self.calls.setdefault(index, {"id": None, "type": "function",
                                                 "function": {"name": "", "arguments": ""}})
            call["id"] = t.get("id") or call["id"]
            fn = t.get("function") if isinstance(t.get("function"), dict) else {}
            for k in ("name", "arguments"):
                if isinstance(fn.get(k), str):
                    call["function"][k] += fn[k]

    def _add(self, piece: str | None) -> None:
        if piece:
            if self.first_token_at is None:
                self.first_token_at = time.perf_counter()
            self.pieces.append(piece)


async def _sse(gw: Gateway, call: ChatCall, routed: Routed):
    tally = _StreamTally()
    try:
        chunk = routed.response
        it = routed.stream
        while chunk is not None:
            d = tally.take(dump(chunk), call, routed.model)
            if d is not None:
                yield b"data: " + orjson.dumps(d) + b"\n\n"
            chunk = await anext(it, None)
        yield b"data: [DONE]\n\n"
    except Exception as exc:  # noqa: BLE001 - mid-stream: tell the client, record
        tally.error = f"stream broke after the first token: {exc}"[:2000]
        yield b"data: " + orjson.dumps({"error": openai_errors.error_object(
            502, "upstream-stream", tally.error)}) + b"\n\n"
    finally:
        cost = _close_trace(gw, call, routed, tally)
        gw.record(call.trace)  # before the await: a disconnect cancels what follows
        await gw.settle(call.reservation, cost)


def _close_trace(gw: Gateway, call: ChatCall, routed: Routed, tally: _StreamTally
                 ) -> float | None:
    """Fill in the stream's trace; returns what the call costs."""
    pt, ct = tally.prompt_tokens, tally.completion_tokens
    cost = gw.cost(routed.model, pt, ct)  # None without usage: the worst case
    if call.reservation is not None and cost is None:
        cost = call.reservation.amount
    trace = call.trace
    trace.latency_ms = elapsed_ms(call.started)
    if tally.first_token_at is not None:
        trace.ttft_ms = (tally.first_token_at - call.started) * 1000
    trace.prompt_tokens, trace.completion_tokens, trace.cost_usd = pt, ct, cost
    if tally.error:
        trace.status, trace.error = 502, tally.error
    if gw.settings.store_bodies:
        trace.response = {"content": pii_step.mask_for_storage("".join(tally.pieces),
                                                               call.policy)}
        if tally.calls:
            trace.response["tool_calls"] = pii_step.mask_calls_for_storage(
                [tally.calls[i] for i in sorted(tally.calls)], call.policy)
    return cost
