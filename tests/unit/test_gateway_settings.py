"""The gateway's settings come from ``harness.config.Settings``: the same variable names,
defaults and parsing as when the gateway read the environment itself."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.config import Settings
from services.gateway.config import GatewaySettings

GATEWAY_VARIABLES = (
    "HARNESS_GATEWAY_ALIASES", "HARNESS_GATEWAY_ALIASES_FILE", "HARNESS_GATEWAY_DEPLOYMENTS",
    "HARNESS_LLM_DEPLOYMENTS", "HARNESS_GATEWAY_PRICES", "HARNESS_GATEWAY_RETRIES",
    "HARNESS_GATEWAY_TIMEOUT_S", "HARNESS_GATEWAY_COOLDOWN_S", "HARNESS_GATEWAY_ALLOWED_FAILS",
    "HARNESS_GATEWAY_PII_POLICY", "HARNESS_GATEWAY_DEFAULT_MAX_TOKENS",
    "HARNESS_GATEWAY_TRACE_RETENTION_DAYS", "HARNESS_GATEWAY_STORE_BODIES",
    "HARNESS_OTLP_ENDPOINT", "HARNESS_GATEWAY_ALERT_WEBHOOK", "HARNESS_GATEWAY_ALERT_CHECK_S",
    "HARNESS_GATEWAY_METRICS_PUBLIC",
)


@pytest.fixture
def env(monkeypatch):
    for name in GATEWAY_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def read(**variables: str) -> GatewaySettings:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        return GatewaySettings.from_settings(Settings())

    return read


def test_unset_variables_give_the_defaults(env):
    assert env() == GatewaySettings()


def test_every_variable_is_read(env, tmp_path):
    s = env(HARNESS_GATEWAY_DEPLOYMENTS='{"*": {"api_base": "http://stub"}}',
            HARNESS_GATEWAY_PRICES='{"m": {"input_cost_per_token": 1e-6}}',
            HARNESS_GATEWAY_RETRIES="0", HARNESS_GATEWAY_TIMEOUT_S="2.5",
            HARNESS_GATEWAY_COOLDOWN_S="1", HARNESS_GATEWAY_ALLOWED_FAILS="3",
            HARNESS_GATEWAY_PII_POLICY="block", HARNESS_GATEWAY_DEFAULT_MAX_TOKENS="64",
            HARNESS_GATEWAY_TRACE_RETENTION_DAYS="7", HARNESS_GATEWAY_STORE_BODIES="false",
            HARNESS_OTLP_ENDPOINT="http://127.0.0.1:4318",
            HARNESS_GATEWAY_ALERT_WEBHOOK="https://hooks.example/x",
            HARNESS_GATEWAY_ALERT_CHECK_S="0.5", HARNESS_GATEWAY_METRICS_PUBLIC="yes")
    assert s == GatewaySettings(
        deployments={"*": {"api_base": "http://stub"}},
        prices={"m": {"input_cost_per_token": 1e-6}}, num_retries=0, timeout_s=2.5,
        cooldown_s=1.0, allowed_fails=3, default_pii_policy="block", default_max_tokens=64,
        trace_retention_days=7, store_bodies=False, otlp_endpoint="http://127.0.0.1:4318",
        alert_webhook="https://hooks.example/x", alert_check_s=0.5, metrics_public=True)


def test_aliases_file_under_the_json_aliases(env, tmp_path):
    f = tmp_path / "aliases.yaml"
    f.write_text("aliases:\n  smart: [a, b]\n  fast: c\n")
    s = env(HARNESS_GATEWAY_ALIASES_FILE=str(f), HARNESS_GATEWAY_ALIASES='{"fast": "d"}')
    assert s.aliases == {"smart": ["a", "b"], "fast": ["d"]}


def test_deployments_fall_back_to_the_workers(env):
    s = env(HARNESS_LLM_DEPLOYMENTS='{"*": {"api_base": "http://llm"}}')
    assert s.deployments == {"*": {"api_base": "http://llm"}}
    s = env(HARNESS_GATEWAY_DEPLOYMENTS='{"m": {"api_base": "http://gw"}}')
    assert s.deployments == {"m": {"api_base": "http://gw"}}


@pytest.mark.parametrize(("value", "stored"), [("false", False), ("FALSE", False),
                                              ("0", True), ("no", True), ("true", True)])
def test_only_false_stops_storing_bodies(env, value, stored):
    assert env(HARNESS_GATEWAY_STORE_BODIES=value).store_bodies is stored


@pytest.mark.parametrize(("value", "public"), [("1", True), ("TRUE", True), ("yes", True),
                                              ("on", False), ("false", False), ("", False)])
def test_metrics_are_public_only_when_said(env, value, public):
    assert env(HARNESS_GATEWAY_METRICS_PUBLIC=value).metrics_public is public


def test_empty_values_are_unset(env):
    assert env(HARNESS_GATEWAY_PRICES="", HARNESS_GATEWAY_ALIASES="",
               HARNESS_GATEWAY_DEPLOYMENTS="", HARNESS_OTLP_ENDPOINT="",
               HARNESS_GATEWAY_ALERT_WEBHOOK="", HARNESS_GATEWAY_ALIASES_FILE="") \
        == GatewaySettings()


def test_bad_json_names_the_variable(env):
    with pytest.raises(ValidationError, match="HARNESS_GATEWAY_PRICES is not valid JSON"):
        env(HARNESS_GATEWAY_PRICES="{nope")
