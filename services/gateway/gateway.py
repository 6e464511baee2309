"""The :class:`Gateway`: the state every gateway route shares (settings, model router, key
store, trace writer, cost alert monitor, Prometheus counters) and the steps they share
(authenticate, rate limit, resolve a target, reserve and settle a budget, record a trace).

The routes find it on ``request.app.state.gateway`` through :func:`current_gateway`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, Field

from harness import metrics, rollout, templating
from harness.llm import pricing
from harness.tracing import Trace, TraceWriter
from harness.tracing.otlp import exporter_from_settings
from harness.tracing.spans import NO_SPANS

from . import alerts as cost_alerts
from . import budget as budgets
from . import metrics as usage_metrics
from .config import GatewaySettings
from .keys import GatewayKey, KeyStore
from .ports import RegistryRuntime, ResolveApplication
from .problems import problem
from .routing import ModelRouter


class Target(BaseModel):
    """Where a request goes: the model chain, and for ``app/<name>`` the application's
    prompt (rendered into ``prefix_messages``) and LLM options."""

    chain: list[str]
    application: str | None = None
    prompt_id: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    prompt_references: list[dict[str, Any]] | None = None  # what its references resolved to
    variables: dict[str, Any] | None = None  # what the prompt was rendered with
    params: dict[str, Any] = Field(default_factory=dict)
    prefix_messages: list[dict[str, Any]] = Field(default_factory=list)
    # the environment's split picked this version for the request's stickiness key:
    # {"environment", "sticky_by", "version", "weight", "share"}
    variant: dict[str, Any] | None = None

    def headers(self) -> dict[str, str]:
        """What the answer's headers say of the prompt: its version, and the variant
        when a split picked it (``x-harness-variant: v4``)."""
        out: dict[str, str] = {}
        if self.prompt_version is not None:
            out["x-harness-prompt-version"] = str(self.prompt_version)
        if self.variant is not None:
            out["x-harness-variant"] = f"v{self.variant['version']}"
        return out


def _variables(body: dict) -> dict:
    """The template variables of an ``app/<name>`` request: ``variables``, else
    ``metadata.variables``."""
    variables = body.get("variables")
    if variables is None:
        variables = (body.get("metadata") or {}).get("variables") or {}
    if not isinstance(variables, dict):
        raise problem(422, "bad-variables", "variables must be an object", param="variables")
    return variables


async def _render(name: str, content: Any, variables: dict) -> Any:
    try:
        return await templating.render_async(content, variables)
    except templating.RenderBudgetExceeded as exc:
        raise problem(422, "render-budget-exceeded", str(exc), bound=exc.bound) from exc
    except templating.TemplateRenderError as exc:
        raise problem(422, "template-error", f"application {name!r}: {exc}",
                      param="variables") from exc


class Gateway:
    """``runtime``: the registry's (its pool, notifications, resolve cache and fact
    recording); ``resolve``: the registry's resolve query (see :mod:`.ports`)."""

    def __init__(self, runtime: RegistryRuntime, settings: GatewaySettings | None = None, *,
                 resolve: ResolveApplication) -> None:
        self.rt = runtime
        self.resolve = resolve
        self.settings = settings or GatewaySettings.from_settings()
        self.router = ModelRouter(self.settings)
        self.keys = KeyStore(runtime.pool)
        runtime.on_keys_changed.append(self.keys.invalidate)  # revoked anywhere: at once
        runtime.notifier.on_disconnect(self.keys.distrust)
        otlp = exporter_from_settings(self.settings.otlp_endpoint, "harness-gateway")
        self.spans = otlp.spans if otlp else NO_SPANS  # request spans (RequestSpans)
        self.traces = TraceWriter(runtime.pool, batch_size=self.settings.trace_batch_size,
                                  flush_s=self.settings.trace_flush_s,
                                  retention_days=self.settings.trace_retention_days,
                                  exporters=[otlp] if otlp else [])
        self.alerts = cost_alerts.AlertMonitor(
            runtime.pool, runtime.commands, default_webhook=self.settings.alert_webhook,
            interval_s=self.settings.alert_check_s)
        self.traces.listeners.append(self.alerts.on_batch)
        self.prom = usage_metrics.Prometheus()
        metrics.add_text_source(self, Gateway.prometheus_text)  # the loopback listener

    def prometheus_text(self) -> bytes:
        """The gateway's own series (its part of ``/metrics``)."""
        extra = {"harness_gateway_traces_written_total": self.traces.written,
                 "harness_gateway_traces_dropped_total": self.traces.dropped,
                 "harness_gateway_models_cooling": sum(
                     1 for m in list(self.router.cooldowns) if self.router.cooling(m) > 0)}
        return self.prom.render(extra).encode()

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
            raise problem(401, "missing-key", "a gateway key is required: "
                          "Authorization: Bearer <key>",
                          headers={"WWW-Authenticate": "Bearer"})
        key = await self.keys.lookup(secret)
        if key is None:
            raise problem(401, "invalid-key", "unknown or revoked gateway key",
                          headers={"WWW-Authenticate": "Bearer"})
        return key

    async def rate_limit(self, key: GatewayKey) -> None:
        ok, retry_after = await self.keys.hit_rate(key)
        if not ok:
            secs = max(1, int(retry_after + 0.999))
            raise problem(429, "rate-limited", f"key {key.name!r} is limited to {key.rpm} "
                          "requests per minute", headers={"Retry-After": str(secs)},
                          retry_after_s=secs)

    # ------------------------------------------------------------------ targets
    async def _application(self, name: str) -> dict:
        cache = self.rt.resolve_cache
        ck = f"gateway-app:{name}"
        hit = cache.get(ck)
        metrics.gateway_cache.labels("application", "miss" if hit is None else "hit").inc()
        if hit is not None:
            return orjson.loads(hit[0])
        generation = cache.generation
        app_id = await self.rt.pool.fetchval("SELECT id FROM applications WHERE name = $1",
                                             name)
        if app_id is None:
            raise problem(404, "unknown-application", f"no application named {name!r}")
        body, etag = await self.resolve(self.rt.pool, app_id)
        cache.put(ck, body, etag, generation)
        return orjson.loads(body)

    async def _application_target(self, key: GatewayKey, name: str, body: dict,
                                  headers: Mapping[str, str]) -> Target:
        if not key.allows_application(name):
            raise problem(403, "out-of-scope", f"this key may not use application {name!r}")
        a = await self._application(name)
        variant = None
        if a.get("split"):  # weighted rollout: the request's key picks the version
            a = rollout.for_key(a, rollout.key_of(a["split"]["sticky_by"], body, headers))
            if a.get("variant"):
                variant = {"environment": a["environment"],
                           "sticky_by": a["split"]["sticky_by"], **a["variant"]}
        variables = _variables(body)
        rendered = await _render(name, a["content"], variables)
        chain = [a["model"], *[m for m in a.get("fallback_models") or [] if m]]
        return Target(chain=list(dict.fromkeys(chain)), application=name,
                      prompt_id=a["prompt_id"], prompt_name=a.get("prompt_name"),
                      prompt_version=a["version"], variables=variables,
                      prompt_references=a.get("references") or None,
                      params={k: v for k, v in a["params"].items() if v is not None},
                      prefix_messages=templating.to_messages(rendered), variant=variant)

    async def target(self, key: GatewayKey, model: str, body: dict,
                     headers: Mapping[str, str] | None = None) -> Target:
        """``headers``: the request's (a split may take its stickiness key from one)."""
        if model.startswith("app/"):
            return await self._application_target(key, model[4:], body, headers or {})
        if not key.allows_model(model):
            raise problem(403, "out-of-scope", f"this key may not use model {model!r}")
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
            metrics.gateway_budget_rejections.labels("price-unknown").inc()
            raise problem(422, "price-unknown", str(exc), models=exc.models) from exc
        try:
            return await budgets.reserve(self.rt.pool, key, worst)
        except budgets.BudgetExceeded as exc:
            metrics.gateway_budget_rejections.labels("exceeded").inc()
            raise problem(429, "budget-exceeded", str(exc),
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
        metrics.gateway_cache.labels("llm", "hit" if trace.cached else "miss").inc()
        self.prom.observe(model=trace.model_answered or trace.model_requested,
                          app=trace.application, status=trace.status,
                          latency_s=trace.latency_ms / 1000, prompt_tokens=trace.prompt_tokens,
                          completion_tokens=trace.completion_tokens, cost_usd=trace.cost_usd,
                          attempts=trace.attempts)


async def current_gateway(request: Request) -> Gateway:
    """The app's gateway (async: a plain function would cost a threadpool hop per call)."""
    gw = getattr(request.app.state, "gateway", None)
    if gw is None:
        raise problem(503, "gateway-starting", "the gateway is not started yet")
    return gw
