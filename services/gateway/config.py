"""The gateway's settings: the ``HARNESS_GATEWAY_*`` fields of :class:`harness.config.Settings`
(and ``HARNESS_OTLP_ENDPOINT``, ``HARNESS_LLM_DEPLOYMENTS``), resolved into what the gateway
uses: the aliases file merged under the JSON aliases, deployments falling back to the
workers'. Tests and benchmarks build a :class:`GatewaySettings` directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import Settings, get_settings


def _aliases(s: Settings) -> dict[str, list[str]]:
    aliases: dict[str, Any] = {}
    if s.gateway_aliases_file:
        import yaml

        data = yaml.safe_load(Path(s.gateway_aliases_file).read_text()) or {}
        aliases.update(data.get("aliases", data))
    aliases.update(s.gateway_aliases)
    return {k: ([v] if isinstance(v, str) else list(v)) for k, v in aliases.items()}


@dataclass
class GatewaySettings:
    """``aliases``: ``{alias: [model, fallback, ...]}``.
    ``deployments``: LiteLLM params per model id (``api_base``, ``api_key``, ...); the
    key ``"*"`` applies to every model not listed.
    ``prices``: ``{model: {input_cost_per_token, output_cost_per_token}}`` over LiteLLM's map.
    """

    aliases: dict[str, list[str]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    num_retries: int = 2
    timeout_s: float = 60.0
    cooldown_s: float = 30.0
    allowed_fails: int = 1            # failed calls (after retries) before a cooldown
    default_pii_policy: str = "mask"  # for requests made with keys that do not say
    default_max_tokens: int = 1024    # bound on output when a budget needs a worst case
    trace_retention_days: int = 30
    trace_batch_size: int = 200
    trace_flush_s: float = 0.5
    store_bodies: bool = True
    otlp_endpoint: str | None = None  # OTLP/HTTP collector (HARNESS_OTLP_ENDPOINT); None = off
    alert_webhook: str | None = None  # default webhook of cost alerts that name none
    alert_check_s: float = 15.0       # cost alerts are also checked after each trace batch
    metrics_public: bool = False      # /metrics without a key (else: role metrics or higher)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> GatewaySettings:
        """From ``settings`` (default: :func:`harness.config.get_settings`)."""
        s = settings or get_settings()
        return cls(
            aliases=_aliases(s),
            deployments=dict(s.gateway_deployments or s.llm_deployments or {}),
            prices=dict(s.gateway_prices),
            num_retries=s.gateway_retries,
            timeout_s=s.gateway_timeout_s,
            cooldown_s=s.gateway_cooldown_s,
            allowed_fails=s.gateway_allowed_fails,
            default_pii_policy=s.gateway_pii_policy,
            default_max_tokens=s.gateway_default_max_tokens,
            trace_retention_days=s.gateway_trace_retention_days,
            store_bodies=s.gateway_store_bodies,
            otlp_endpoint=s.otlp_endpoint or None,
            alert_webhook=s.gateway_alert_webhook,
            alert_check_s=s.gateway_alert_check_s,
            metrics_public=s.gateway_metrics_public,
        )

    def params_for(self, model: str) -> dict[str, Any]:
        if model in self.deployments:
            return dict(self.deployments[model])
        return dict(self.deployments.get("*", {}))
