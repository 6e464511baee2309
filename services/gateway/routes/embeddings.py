"""``POST /v1/embeddings``: a model or an alias (applications are chat models), with the
key's PII policy applied to text inputs, the budget reserved, and one trace recorded."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from harness.llm import options, pricing
from harness.tracing import Trace

from .. import pii as pii_step
from ..gateway import Gateway, current_gateway
from ..problems import pii_blocked_problem, problem
from ._calls import call_upstream, dump, elapsed_ms, read_body, usage_of

router = APIRouter()


@router.post("/v1/embeddings")
async def embeddings(request: Request, gw: Gateway = Depends(current_gateway)):
    started = time.perf_counter()
    key = await gw.authenticate(request)
    body = await read_body(request, options.OPENAI_EMBEDDING_FIELDS)
    inputs, single = _inputs(body)
    tgt = await gw.target(key, body["model"], body)
    await gw.rate_limit(key)
    inputs, pii_action = _masked(inputs, key.pii_policy or gw.settings.default_pii_policy)
    upper = sum(len(str(t).encode()) + 8 for t in inputs)
    reservation = await gw.reserve(key, tgt.chain, upper, 0)
    trace = Trace(kind="embeddings", model_requested=body["model"], status=200,
                  latency_ms=0, key_id=key.id, key_name=key.name, pii_action=pii_action)
    routed = await call_upstream(gw, gw.router.embed(tgt.chain, _kwargs(body, inputs, single)),
                                 reservation, trace, started, count_attempts=False)
    out = dump(routed.response)
    out["model"] = routed.model
    pt, _ = usage_of(out)
    cost = pricing.embedding_cost(routed.model, pt, prices=gw.settings.prices) \
        if pt else None  # no usage (or LiteLLM's zeros for it): the worst case
    cost = await gw.settle(reservation, cost)
    trace.latency_ms = elapsed_ms(started)
    trace.model_answered, trace.attempts = routed.model, routed.attempts
    trace.prompt_tokens, trace.cost_usd = pt, cost
    gw.record(trace)
    return Response(orjson.dumps(out), media_type="application/json",
                    headers={"x-harness-model": routed.model,
                             "x-harness-trace-id": str(trace.id)})


def _inputs(body: dict) -> tuple[list[Any], bool]:
    """The inputs as a list, and whether the request sent a single string."""
    inputs = body.get("input")
    single = isinstance(inputs, str)
    if single:
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs:
        raise problem(400, "bad-request", "'input' (a string or a list) is required")
    if body["model"].startswith("app/"):
        raise problem(400, "bad-request", "applications are chat models; "
                      "embeddings take a model or an alias")
    return inputs, single


def _masked(inputs: list[Any], policy: str) -> tuple[list[Any], str]:
    """Text inputs under the PII policy; token arrays have nothing to mask."""
    texts = [t for t in inputs if isinstance(t, str)]
    if len(texts) != len(inputs):
        return inputs, "none"
    try:
        texts, pii_action, _ = pii_step.apply_to_texts(texts, policy)
    except Exception as exc:
        refused = pii_blocked_problem(exc)
        if refused is None:
            raise
        raise refused from exc
    return texts, pii_action


def _kwargs(body: dict, inputs: list[Any], single: bool) -> dict[str, Any]:
    kwargs = {"input": inputs[0] if single else inputs}
    for k in options.EMBEDDING_OPTIONS:
        if body.get(k) is not None:
            kwargs[k] = body[k]
    return kwargs
