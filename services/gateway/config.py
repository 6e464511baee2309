"""Gateway settings, read from the environment (``HARNESS_GATEWAY_*``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _json_env(name: str) -> Any:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{name} is not valid JSON: {exc}") from exc


def _load_aliases() -> dict[str, list[str]]:
    aliases: dict[str, list[str]] = {}
    path = os.environ.get("HARNESS_GATEWAY_ALIASES_FILE")
    if path:
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        aliases.update(data.get("aliases", data))
    aliases.update(_json_env("HARNESS_GATEWAY_ALIASES") or {})
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
    def from_env(cls) -> GatewaySettings:
        e = os.environ.get
        return cls(
            aliases=_load_aliases(),
            deployments=(_json_env("HARNESS_GATEWAY_DEPLOYMENTS")
                         or _json_env("HARNESS_LLM_DEPLOYMENTS") or {}),
            prices=_json_env("HARNESS_GATEWAY_PRICES") or {},
            num_retries=int(e("HARNESS_GATEWAY_RETRIES", "2")),
            timeout_s=float(e("HARNESS_GATEWAY_TIMEOUT_S", "60")),
            cooldown_s=float(e("HARNESS_GATEWAY_COOLDOWN_S", "30")),
            allowed_fails=int(e("HARNESS_GATEWAY_ALLOWED_FAILS", "1")),
            default_pii_policy=e("HARNESS_GATEWAY_PII_POLICY", "mask"),
            default_max_tokens=int(e("HARNESS_GATEWAY_DEFAULT_MAX_TOKENS", "1024")),
            trace_retention_days=int(e("HARNESS_GATEWAY_TRACE_RETENTION_DAYS", "30")),
            store_bodies=e("HARNESS_GATEWAY_STORE_BODIES", "true").lower() != "false",
            otlp_endpoint=e("HARNESS_OTLP_ENDPOINT") or None,
            alert_webhook=e("HARNESS_GATEWAY_ALERT_WEBHOOK") or None,
            alert_check_s=float(e("HARNESS_GATEWAY_ALERT_CHECK_S", "15")),
            metrics_public=e("HARNESS_GATEWAY_METRICS_PUBLIC", "false").lower()
            in ("1", "true", "yes"),
        )

    def params_for(self, model: str) -> dict[str, Any]:
        if model in self.deployments:
            return dict(self.deployments[model])
        return dict(self.deployments.get("*", {}))
