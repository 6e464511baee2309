"""The OpenAI-compatible gateway: ``/v1/chat/completions``, ``/v1/embeddings``,
``/v1/models``, plus ``/metrics/usage``, ``/metrics``, keys and cost alerts.

The routes find the :class:`Gateway` on ``request.app.state.gateway``. It is built from
the app's runtime by the router's lifespan, after the runtime has started (``harness up``
starts its runtime in the registry's lifespan), or up front by :func:`create_gateway_app`
when the runtime is already running.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AnyHttpUrl, BaseModel, Field

from harness import templating
from harness.llm import options, pricing
from harness.tracing import Trace, TraceWriter
from harness.tracing.otlp import exporter_from_settings
from harness.tracing.record import SOURCES
from harness.web.auth import require
from harness.web.input_guard import INT32_MAX
from harness.web.openapi_errors import media_types
from harness.web.problems import ProblemError

from . import alerts as cost_alerts
from . import budget as budgets
from . import metrics as usage_metrics
from . import openai_errors
from . import pii as pii_step
from .config import GatewaySettings
from .keys import GatewayKey, KeyStore, create_key, revoke_key
from .routing import ModelRouter, UpstreamError

log = structlog.get_logger(__name__)

MAX_USD = 1e9
"""Budgets and thresholds are stored as numeric(18, 8): below 10^10 dollars."""


def _problem(status: int, slug: str, detail: str, headers: dict | None = None,
             param: str | None = None, **extra: Any) -> ProblemError:
    """A problem document that also carries OpenAI's ``error`` object for SDK clients."""
    return ProblemError(status, slug, detail, headers=headers,
                        error=openai_errors.error_object(status, slug, detail, param), **extra)


class Target(BaseModel):
    chain: list[str]
    application: str | None = None
    prompt_id: str | None = None
    prompt_version: int | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    prefix_messages: list[dict[str, Any]] = Field(default_factory=list)


class KeyIn(BaseModel):
    """A new gateway key: scope, limits, budgets and PII policy."""

    name: str = Field(min_length=1, max_length=200, pattern=r"\S",
                      description="not blank")
    applications: list[str] | None = None
    models: list[str] | None = None
    rpm: int | None = Field(None, ge=1, le=INT32_MAX)
    budget_day_usd: float | None = Field(None, ge=0, le=MAX_USD)
    budget_month_usd: float | None = Field(None, ge=0, le=MAX_USD)
    pii_policy: str = Field("mask", pattern="^(off|mask|block)$")


class AlertIn(BaseModel):
    """A cost alert: a threshold on spend per key, application or in total."""

    name: str | None = Field(None, max_length=200)
    scope: str = Field(pattern="^(key|app|total)$",
                       description="key (target: a key id), app (target: an application "
                                   "name) or total (no target)")
    target: str | None = None
    period: str = Field(pattern="^(day|month)$", description="UTC day or month")
    threshold_usd: float = Field(gt=0, le=MAX_USD)
    webhook_url: AnyHttpUrl | None = Field(
        None, description="Slack-compatible incoming webhook; default "
                          "HARNESS_GATEWAY_ALERT_WEBHOOK")


class Gateway:
    def __init__(self, runtime, settings: GatewaySettings | None = None) -> None:
        self.rt = runtime
        self.settings = settings or GatewaySettings.from_env()
        self.router = ModelRouter(self.settings)
        self.keys = KeyStore(runtime.pool)
        runtime.on_keys_changed.append(self.keys.invalidate)  # revoked anywhere: at once
        runtime.notifier.on_disconnect(self.keys.distrust)
        otlp = exporter_from_settings(self.settings.otlp_endpoint, "harness-gateway")
        self.traces = TraceWriter(runtime.pool, batch_size=self.settings.trace_batch_size,
                                  flush_s=self.settings.trace_flush_s,
                                  retention_days=self.settings.trace_retention_days,
                                  exporters=[otlp] if otlp else [])
        self.alerts = cost_alerts.AlertMonitor(
            runtime.pool, runtime.commands, default_webhook=self.settings.alert_webhook,
            interval_s=self.settings.alert_check_s)
        self.traces.listeners.append(self.alerts.on_batch)
        self.prom = usage_metrics.Prometheus()

    def start(self) -> None:
        """Background work (cost alert checks); needs a running event loop."""
        self.alerts.start()

    async def stop(self) -> None:
        await self.traces.stop()
        await self.alerts.stop()

    # ------------------------------------------------------------------ auth
    async def authenticate(self, request: Request) -> GatewayKey:
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header.lower().startswith("bearer ") else ""
        secret = secret or request.headers.get("x-api-key", "").strip()
        if not secret:
            raise _problem(401, "missing-key", "a gateway key is required: "
                           "Authorization: Bearer <key>",
                           headers={"WWW-Authenticate": "Bearer"})
        key = await self.keys.lookup(secret)
        if key is None:
            raise _problem(401, "invalid-key", "unknown or revoked gateway key",
                           headers={"WWW-Authenticate": "Bearer"})
        return key

    async def rate_limit(self, key: GatewayKey) -> None:
        ok, retry_after = await self.keys.hit_rate(key)
        if not ok:
            secs = max(1, int(retry_after + 0.999))
            raise _problem(429, "rate-limited", f"key {key.name!r} is limited to {key.rpm} "
                           "requests per minute", headers={"Retry-After": str(secs)},
                           retry_after_s=secs)

    # ------------------------------------------------------------------ targets
    async def _application(self, name: str) -> dict:
        from services.registry.routes.applications import _resolve

        cache = self.rt.resolve_cache
        ck = f"gateway-app:{name}"
        hit = cache.get(ck)
        if hit is not None:
            return orjson.loads(hit[0])
        generation = cache.generation
        app_id = await self.rt.pool.fetchval("SELECT id FROM applications WHERE name = $1",
                                             name)
        if app_id is None:
            raise _problem(404, "unknown-application", f"no application named {name!r}")
        body, etag = await _resolve(self.rt, app_id)
        cache.put(ck, body, etag, generation)
        return orjson.loads(body)

    async def target(self, key: GatewayKey, model: str, body: dict) -> Target:
        if model.startswith("app/"):
            name = model[4:]
            if not key.allows_application(name):
                raise _problem(403, "out-of-scope", f"this key may not use application {name!r}")
            a = await self._application(name)
            variables = body.get("variables")
            if variables is None:
                variables = (body.get("metadata") or {}).get("variables") or {}
            if not isinstance(variables, dict):
                raise _problem(422, "bad-variables", "variables must be an object",
                               param="variables")
            try:
                rendered = await templating.render_async(a["content"], variables)
            except templating.RenderBudgetExceeded as exc:
                raise _problem(422, "render-budget-exceeded", str(exc), bound=exc.bound) from exc
            except templating.TemplateRenderError as exc:
                raise _problem(422, "template-error", f"application {name!r}: {exc}",
                               param="variables") from exc
            chain = [a["model"], *[m for m in a.get("fallback_models") or [] if m]]
            return Target(chain=list(dict.fromkeys(chain)), application=name,
                          prompt_id=a["prompt_id"], prompt_version=a["version"],
                          params={k: v for k, v in a["params"].items() if v is not None},
                          prefix_messages=templating.to_messages(rendered))
        if not key.allows_model(model):
            raise _problem(403, "out-of-scope", f"this key may not use model {model!r}")
        chain = self.settings.aliases.get(model, [model])
        return Target(chain=chain)

    # ------------------------------------------------------------------ budget
    async def reserve(self, key: GatewayKey, chain: list[str], prompt_upper: int,
                      max_tokens: int, params: dict[str, Any] | None = None
                      ) -> budgets.Reservation | None:
        if not key.has_budget:
            return None
        try:
            worst = budgets.worst_case_cost(chain, prompt_upper, max_tokens,
                                            self.settings.prices, params)
        except budgets.PriceUnknown as exc:
            raise _problem(422, "price-unknown", str(exc), models=exc.models) from exc
        try:
            return await budgets.reserve(self.rt.pool, key, worst)
        except budgets.BudgetExceeded as exc:
            raise _problem(429, "budget-exceeded", str(exc),
                           headers={"Retry-After": str(exc.retry_after_s)},
                           period=exc.period, limit_usd=exc.limit) from exc

    async def settle(self, reservation: budgets.Reservation | None,
                     cost: float | None) -> float | None:
        """Settle a reservation; returns what the call is charged (the whole reservation
        when ``cost`` is unknown). Shielded: a client that disconnects mid-call must not
        leave the reservation held."""
        if reservation is None:
            return cost
        return await asyncio.shield(budgets.settle(self.rt.pool, reservation, cost))

    def cost(self, model: str | None, prompt_tokens: int | None,
             completion_tokens: int | None) -> float | None:
        """``None`` when unknown: an unpriced model, or an answer without usage (LiteLLM
        fills a missing usage with zeros, and no real call uses 0 tokens), which a budget
        then charges at its worst case, never as free."""
        if model is None or not (prompt_tokens or completion_tokens):
            return None
        return pricing.completion_cost(model, prompt_tokens, completion_tokens,
                                       prices=self.settings.prices)

    def record(self, trace: Trace) -> None:
        self.traces.add(trace)
        self.prom.observe(model=trace.model_answered or trace.model_requested,
                          app=trace.application, status=trace.status,
                          latency_s=trace.latency_ms / 1000, prompt_tokens=trace.prompt_tokens,
                          completion_tokens=trace.completion_tokens, cost_usd=trace.cost_usd,
                          attempts=trace.attempts)


def _usage_of(obj: Any) -> tuple[int | None, int | None]:
    u = getattr(obj, "usage", None)
    if u is None and isinstance(obj, dict):
        u = obj.get("usage")
    if u is None:
        return None, None
    if isinstance(u, dict):
        return u.get("prompt_tokens"), u.get("completion_tokens")
    return getattr(u, "prompt_tokens", None), getattr(u, "completion_tokens", None)


def _dump(obj: Any) -> dict:
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(exclude_none=False)
    return dict(obj)


# Errors that are not the provider's: named for what they are, not "upstream-..."
_SLUGS = {"config": "missing-credentials", "unsupported": "unsupported-operation"}


def _spent_on_failure(exc: UpstreamError) -> float | None:
    """What a failed call is charged: nothing when every attempt was refused, its worst
    case (``None``) when one timed out, since a provider bills a request it finished even
    when nobody waited for the answer."""
    timed_out = exc.kind == "timeout" or any(a.get("kind") == "timeout" for a in exc.history)
    return None if timed_out else 0.0


def _upstream_problem(exc: UpstreamError) -> ProblemError:
    headers = None
    if exc.retry_after_s is not None:
        headers = {"Retry-After": str(max(1, int(exc.retry_after_s + 0.999)))}
    slug = _SLUGS.get(exc.kind, f"upstream-{exc.kind}")
    return _problem(exc.http_status, slug, exc.message, headers=headers,
                    attempts=exc.history)


async def current_gateway(request: Request) -> Gateway:
    """The app's gateway (async: a plain function would cost a threadpool hop per call)."""
    gw = getattr(request.app.state, "gateway", None)
    if gw is None:
        raise _problem(503, "gateway-starting", "the gateway is not started yet")
    return gw


def gateway_router(settings: GatewaySettings | None = None) -> APIRouter:
    """The gateway's routes. Its lifespan builds the :class:`Gateway` from
    ``app.state.runtime`` once the app's own lifespan has started it (unless one is already
    on ``app.state.gateway``), and flushes traces on shutdown."""

    @asynccontextmanager
    async def lifespan(app):
        gw = getattr(app.state, "gateway", None)
        if gw is None:
            gw = app.state.gateway = Gateway(app.state.runtime, settings)
        gw.start()
        log.info("gateway_started", otlp=bool(gw.settings.otlp_endpoint))
        try:
            yield
        finally:
            await gw.stop()

    router = APIRouter(tags=["gateway"], lifespan=lifespan)

    async def _body(request: Request, fields: frozenset[str]) -> dict:
        """The JSON body; a field outside the OpenAI request (``api_base``, ``api_key``,
        ``headers``, LiteLLM's own switches, ...) is a 422 naming it: a client never
        chooses where the gateway sends its provider keys."""
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise _problem(400, "bad-json", f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            raise _problem(400, "bad-request", "'model' (a string) is required")
        try:
            options.check_options(body, "", fields)
        except options.OptionRefused as exc:
            raise _problem(422, "unsupported-field", str(exc), field=exc.field) from exc
        return body

    @router.post("/v1/chat/completions")
    async def chat_completions(request: Request, gw: Gateway = Depends(current_gateway)):
        started = time.perf_counter()
        key = await gw.authenticate(request)
        body = await _body(request, options.OPENAI_CHAT_FIELDS)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _problem(400, "bad-request", "'messages' (a list) is required")
        tgt = await gw.target(key, body["model"], body)
        await gw.rate_limit(key)
        policy = key.pii_policy or gw.settings.default_pii_policy
        all_messages = [*tgt.prefix_messages, *messages]
        try:
            all_messages, pii_action, _counts = pii_step.apply_to_messages(all_messages, policy)
        except pii_step.PIIUnavailable as exc:
            raise _problem(503, "pii-unavailable", f"PII policy {policy!r} needs harness.pii: "
                           f"{exc}") from exc
        except Exception as exc:
            if type(exc).__name__ == "PIIBlocked":
                raise _problem(422, "pii-blocked", exc.detail, kinds=exc.kinds,
                               counts=exc.counts) from exc
            raise
        params = dict(tgt.params)
        params.update({k: v for k, v in body.items()
                       if k in options.OPENAI_FORWARDED and v is not None})
        if key.has_budget and params.get("max_tokens") is None \
                and params.get("max_completion_tokens") is None:
            params["max_tokens"] = gw.settings.default_max_tokens
        try:
            max_out = budgets.output_tokens_bound(params)
        except budgets.BadBound as exc:
            raise _problem(422, "bad-request", str(exc), field=exc.field) from exc
        reservation = await gw.reserve(key, tgt.chain,
                                       budgets.prompt_tokens_upper_bound(all_messages, params),
                                       max_out, params)
        stream = bool(body.get("stream"))
        trace = Trace(kind="chat", model_requested=body["model"], status=200, latency_ms=0,
                      key_id=key.id, key_name=key.name, application=tgt.application,
                      prompt_id=tgt.prompt_id, prompt_version=tgt.prompt_version,
                      stream=stream, pii_action=pii_action, params=params,
                      request={"messages": all_messages, "params": params}
                      if gw.settings.store_bodies else None)
        kwargs = {"messages": all_messages, **params}
        timeout = body.get("timeout") if isinstance(body.get("timeout"), int | float) else None
        try:
            if stream:
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                kwargs["stream_options"] = {"include_usage": True}
                routed = await gw.router.stream(tgt.chain, kwargs, timeout)
            else:
                routed = await gw.router.complete(tgt.chain, kwargs, timeout)
        except UpstreamError as exc:
            await gw.settle(reservation, _spent_on_failure(exc))
            trace.status, trace.error = exc.http_status, str(exc)[:2000]
            trace.latency_ms = (time.perf_counter() - started) * 1000
            trace.attempts = len(exc.history) or None
            gw.record(trace)
            raise _upstream_problem(exc) from exc
        except BaseException:
            await gw.settle(reservation, None)
            raise
        trace.model_answered, trace.attempts = routed.model, routed.attempts
        headers = {"x-harness-model": routed.model, "x-harness-trace-id": str(trace.id),
                   "x-harness-attempts": str(routed.attempts)}
        if not stream:
            out = _dump(routed.response)
            out["model"] = routed.model
            pt, ct = _usage_of(out)
            cost = await gw.settle(reservation, gw.cost(routed.model, pt, ct))
            latency = (time.perf_counter() - started) * 1000
            text = None
            try:
                text = out["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                pass
            trace.latency_ms, trace.ttft_ms = latency, latency
            trace.prompt_tokens, trace.completion_tokens, trace.cost_usd = pt, ct, cost
            trace.finish_reason = out["choices"][0].get("finish_reason") \
                if out.get("choices") else None
            if gw.settings.store_bodies:
                trace.response = {"content": pii_step.mask_for_storage(text, policy),
                                  "finish_reason": trace.finish_reason}
            gw.record(trace)
            if cost is not None:
                headers["x-harness-cost-usd"] = f"{cost:.10f}"
            return Response(orjson.dumps(out), media_type="application/json", headers=headers)

        async def sse():
            pieces: list[str] = []
            pt = ct = None
            first_token_at = None
            error = None
            try:
                chunk = routed.response
                it = routed.stream
                while chunk is not None:
                    d = _dump(chunk)
                    d["model"] = routed.model
                    u = d.get("usage")
                    if u:
                        pt, ct = _usage_of(d)
                        if not include_usage:
                            d.pop("usage", None)
                            if not d.get("choices"):
                                chunk = await anext(it, None)
                                continue
                    elif "usage" in d:
                        d.pop("usage")
                    for c in d.get("choices") or []:
                        trace.finish_reason = c.get("finish_reason") or trace.finish_reason
                        piece = (c.get("delta") or {}).get("content")
                        if piece:
                            if first_token_at is None:
                                first_token_at = time.perf_counter()
                            pieces.append(piece)
                    yield b"data: " + orjson.dumps(d) + b"\n\n"
                    chunk = await anext(it, None)
                yield b"data: [DONE]\n\n"
            except Exception as exc:  # noqa: BLE001 - mid-stream: tell the client, record
                error = f"stream broke after the first token: {exc}"[:2000]
                yield b"data: " + orjson.dumps({"error": openai_errors.error_object(
                    502, "upstream-stream", error)}) + b"\n\n"
            finally:
                text = "".join(pieces)
                cost = gw.cost(routed.model, pt, ct)  # None without usage: the worst case
                if reservation is not None and cost is None:
                    cost = reservation.amount
                trace.latency_ms = (time.perf_counter() - started) * 1000
                if first_token_at is not None:
                    trace.ttft_ms = (first_token_at - started) * 1000
                trace.prompt_tokens, trace.completion_tokens, trace.cost_usd = pt, ct, cost
                if error:
                    trace.status, trace.error = 502, error
                if gw.settings.store_bodies:
                    trace.response = {"content": pii_step.mask_for_storage(text, policy)}
                gw.record(trace)  # before the await: a disconnect cancels what follows
                await gw.settle(reservation, cost)

        return StreamingResponse(sse(), media_type="text/event-stream", headers=headers)

    @router.post("/v1/embeddings")
    async def embeddings(request: Request, gw: Gateway = Depends(current_gateway)):
        started = time.perf_counter()
        key = await gw.authenticate(request)
        body = await _body(request, options.OPENAI_EMBEDDING_FIELDS)
        inputs = body.get("input")
        single = isinstance(inputs, str)
        if single:
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            raise _problem(400, "bad-request", "'input' (a string or a list) is required")
        if body["model"].startswith("app/"):
            raise _problem(400, "bad-request", "applications are chat models; "
                           "embeddings take a model or an alias")
        tgt = await gw.target(key, body["model"], body)
        await gw.rate_limit(key)
        policy = key.pii_policy or gw.settings.default_pii_policy
        texts = [t for t in inputs if isinstance(t, str)]
        if len(texts) == len(inputs):
            try:
                texts, pii_action, _ = pii_step.apply_to_texts(texts, policy)
            except Exception as exc:
                if type(exc).__name__ == "PIIBlocked":
                    raise _problem(422, "pii-blocked", exc.detail, kinds=exc.kinds,
                                   counts=exc.counts) from exc
                raise
            inputs = texts
        else:  # token arrays: nothing to mask
            pii_action = "none"
        upper = sum(len(str(t).encode()) + 8 for t in inputs)
        reservation = await gw.reserve(key, tgt.chain, upper, 0)
        kwargs = {"input": inputs[0] if single else inputs}
        for k in options.EMBEDDING_OPTIONS:
            if body.get(k) is not None:
                kwargs[k] = body[k]
        trace = Trace(kind="embeddings", model_requested=body["model"], status=200,
                      latency_ms=0, key_id=key.id, key_name=key.name, pii_action=pii_action)
        try:
            routed = await gw.router.embed(tgt.chain, kwargs)
        except UpstreamError as exc:
            await gw.settle(reservation, _spent_on_failure(exc))
            trace.status, trace.error = exc.http_status, str(exc)[:2000]
            trace.latency_ms = (time.perf_counter() - started) * 1000
            gw.record(trace)
            raise _upstream_problem(exc) from exc
        except BaseException:
            await gw.settle(reservation, None)
            raise
        out = _dump(routed.response)
        out["model"] = routed.model
        pt, _ = _usage_of(out)
        cost = pricing.embedding_cost(routed.model, pt, prices=gw.settings.prices) \
            if pt else None  # no usage (or LiteLLM's zeros for it): the worst case
        cost = await gw.settle(reservation, cost)
        trace.latency_ms = (time.perf_counter() - started) * 1000
        trace.model_answered, trace.attempts = routed.model, routed.attempts
        trace.prompt_tokens, trace.cost_usd = pt, cost
        gw.record(trace)
        return Response(orjson.dumps(out), media_type="application/json",
                        headers={"x-harness-model": routed.model,
                                 "x-harness-trace-id": str(trace.id)})

    @router.get("/v1/models")
    async def models(request: Request, gw: Gateway = Depends(current_gateway)):
        key = await gw.authenticate(request)
        names: list[str] = []
        names += [a for a in gw.settings.aliases if key.allows_model(a)]
        names += [m for m in gw.settings.deployments if m != "*" and key.allows_model(m)]
        names += [m for m in ("echo",) if key.allows_model(m)]  # built in, offline
        apps = await gw.rt.pool.fetch("SELECT name FROM applications ORDER BY name")
        names += [f"app/{r['name']}" for r in apps if key.allows_application(r["name"])]
        return {"object": "list", "data": [
            {"id": n, "object": "model", "created": 0, "owned_by": "harness"}
            for n in dict.fromkeys(names)]}

    @router.get("/metrics/usage", tags=["gateway"])
    async def usage(group_by: str = Query("model", pattern="^(app|model|key)$"),
                    interval: str = Query("hour", pattern="^(hour|day)$"),
                    since: datetime | None = None, until: datetime | None = None,
                    source: str | None = Query(None, pattern=f"^({'|'.join(SOURCES)})$"),
                    _=Depends(require("viewer")), gw: Gateway = Depends(current_gateway)):
        until = until or datetime.now(UTC) + timedelta(minutes=1)
        try:
            since = since or until - timedelta(days=1)
        except OverflowError as exc:
            raise ProblemError(422, "validation-error", "until: too early to look a day back",
                               field="until") from exc
        await gw.traces.flush()
        return {"group_by": group_by, "interval": interval, "since": since, "until": until,
                "source": source,
                "items": await usage_metrics.usage(gw.rt.pool, group_by, interval, since,
                                                   until, source)}

    @router.get("/metrics", tags=["gateway"],
                **media_types("text/plain", description="Prometheus text format"))
    async def prometheus(request: Request, gw: Gateway = Depends(current_gateway)):
        """Prometheus text. Once the server has API keys it needs one with the role
        ``metrics`` (or any higher role), unless ``HARNESS_GATEWAY_METRICS_PUBLIC=true``."""
        if not gw.settings.metrics_public:
            await require("metrics")(request)
        extra = {"harness_gateway_traces_written_total": gw.traces.written,
                 "harness_gateway_traces_dropped_total": gw.traces.dropped,
                 "harness_gateway_models_cooling": sum(
                     1 for m in list(gw.router.cooldowns) if gw.router.cooling(m) > 0)}
        return Response(gw.prom.render(extra), media_type="text/plain; version=0.0.4")

    @router.post("/gateway/keys", status_code=201)
    async def add_key(body: KeyIn, _=Depends(require("admin")),
                      gw: Gateway = Depends(current_gateway)):
        secret, key = await create_key(gw.rt.pool, **body.model_dump())
        return {"id": str(key.id), "key": secret, "name": key.name,
                "note": "the key is shown once; store it now"}

    @router.delete("/gateway/keys/{key_id}", status_code=204)
    async def delete_key(key_id: uuid.UUID, _=Depends(require("admin")),
                         gw: Gateway = Depends(current_gateway)):
        if not await revoke_key(gw.rt.pool, key_id):
            raise _problem(404, "unknown-key", f"no active key {key_id}")
        gw.keys.invalidate()  # this process at once; the others on the NOTIFY
        return Response(status_code=204)

    @router.post("/gateway/alerts", status_code=201)
    async def add_alert(body: AlertIn, _=Depends(require("admin")),
                        gw: Gateway = Depends(current_gateway)):
        target = (body.target or "").strip() or None
        if body.scope == "total" and target is not None:
            raise _problem(422, "bad-alert", "a total alert has no target", field="target")
        if body.scope != "total" and target is None:
            raise _problem(422, "bad-alert", f"a {body.scope} alert needs a target "
                           f"({'a key id' if body.scope == 'key' else 'an application name'})",
                           field="target")
        if body.scope == "key":
            try:
                key_id = uuid.UUID(target)
            except ValueError as exc:
                raise _problem(422, "bad-alert", f"target {target!r} is not a key id",
                               field="target") from exc
            if not await gw.rt.pool.fetchval("SELECT 1 FROM gateway_keys WHERE id = $1",
                                             key_id):
                raise _problem(422, "bad-alert", f"no gateway key {target}", field="target")
            target = str(key_id)
        if body.scope == "app" and not await gw.rt.pool.fetchval(
                "SELECT 1 FROM applications WHERE name = $1", target):
            raise _problem(422, "bad-alert", f"no application named {target!r}",
                           field="target")
        alert = await cost_alerts.create_alert(
            gw.rt.pool, scope=body.scope, target=target, period=body.period,
            threshold_usd=body.threshold_usd, name=body.name,
            webhook_url=str(body.webhook_url) if body.webhook_url else None)
        gw.alerts.poke()  # spend may already be over it
        [out] = [a for a in await cost_alerts.list_alerts(gw.rt.pool)
                 if a["id"] == str(alert.id)]
        return out

    @router.get("/gateway/alerts")
    async def get_alerts(_=Depends(require("viewer")),
                         gw: Gateway = Depends(current_gateway)):
        return {"items": await cost_alerts.list_alerts(gw.rt.pool)}

    @router.get("/gateway/alerts/firings")
    async def get_firings(alert_id: uuid.UUID | None = None,
                          limit: int = Query(100, ge=1, le=1000),
                          _=Depends(require("viewer")),
                          gw: Gateway = Depends(current_gateway)):
        return {"items": await cost_alerts.list_firings(gw.rt.pool, alert_id, limit)}

    @router.delete("/gateway/alerts/{alert_id}", status_code=204)
    async def delete_alert(alert_id: uuid.UUID, _=Depends(require("admin")),
                           gw: Gateway = Depends(current_gateway)):
        if not await cost_alerts.delete_alert(gw.rt.pool, alert_id):
            raise _problem(404, "unknown-alert", f"no cost alert {alert_id}")
        return Response(status_code=204)

    return router


def mount_gateway(app: FastAPI, settings: GatewaySettings | None = None) -> FastAPI:
    """Add the gateway's routes to ``app`` and OpenAI's error envelope to its ``/v1``
    answers (every app serving the gateway is composed through here)."""
    app.include_router(gateway_router(settings))
    openai_errors.install(app)
    return app


def create_gateway_app(runtime, settings: GatewaySettings | None = None) -> FastAPI:
    """The registry app with the gateway mounted, on a runtime that is already running
    (tests, benchmarks): the gateway is built now; ``gateway.start()`` begins its
    background work (the lifespan does it when the server runs one)."""
    from services.registry.app import create_app

    app = mount_gateway(create_app(runtime=runtime), settings)
    app.state.gateway = Gateway(runtime, settings)
    return app
