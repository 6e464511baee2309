"""All configuration comes from environment variables, read here and nowhere else."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def user_data_dir() -> Path:
    """The user's harness folder (``~/.local/share/harness`` on Linux): one per user, so
    a command finds the same database from any folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("harness", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HARNESS_", extra="ignore",
                                      populate_by_name=True)

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "HARNESS_DATABASE_URL"),
        description="Any PostgreSQL URL; unset = embedded PostgreSQL under data_dir/pgdata",
    )
    data_dir: Path = Field(
        default_factory=lambda: user_data_dir(),
        validation_alias=AliasChoices("HARNESS_DATA_DIR", "HARNESS_HOME"),
        description="HARNESS_HOME (or HARNESS_DATA_DIR): local state (the embedded database, "
                    "artifacts); default: the user's data folder (~/.local/share/harness on "
                    "Linux), the same from any folder")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, validation_alias=AliasChoices("PORT", "HARNESS_PORT"))
    insecure: bool = Field(default=False, description="allow a non-loopback bind without API keys")
    log_level: str = "INFO"
    log_format: str = Field(default="auto", description="HARNESS_LOG_FORMAT: auto (JSON "
                            "unless the logs go to a terminal) | json | console")
    log_json: bool | None = Field(default=None, description="HARNESS_LOG_JSON: the older "
                                  "switch; HARNESS_LOG_FORMAT wins when it is not auto")
    pool_min_size: int = 2
    pool_max_size: int = 10
    relay_batch_size: int = 500
    url: str | None = Field(default=None, description="registry base URL for clients (HARNESS_URL)")
    api_key: str | None = Field(default=None, description="API key for clients (HARNESS_API_KEY)")
    studio_access: str | None = Field(
        default=None, description="HARNESS_STUDIO_ACCESS: public | iap | private, how "
        "visitors reach a studio bound off loopback; only behind iap or private does the "
        "studio act with HARNESS_API_KEY, otherwise every visitor signs in with their own key")
    studio_port: int = Field(default=8501, description="HARNESS_STUDIO_PORT: the studio's "
                                                       "port (`harness up`)")
    gateway_url: str | None = Field(default=None, description="HARNESS_GATEWAY_URL: where the "
                                    "studio reads gateway metrics (default: HARNESS_URL)")
    service: str = Field(default="harness", description="HARNESS_SERVICE: which service this "
                         "process runs (registry, runner, scorer, generator, gateway, studio: "
                         "each image sets it); unset, harness (the CLI, `harness up`). "
                         "PostgreSQL shows it as the connections' application_name")

    # ---- GCP (the same code, other adapters) -------------------------------------------
    bus: str = Field(default="inprocess", description="HARNESS_BUS: inprocess | pubsub")
    gcp_project: str | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "HARNESS_GCP_PROJECT"))
    topic_prefix: str = Field(default="harness-", description="HARNESS_TOPIC_PREFIX")
    artifacts_uri: str | None = Field(
        default=None, description="HARNESS_ARTIFACTS_URI: gs://bucket[/prefix]; unset = the "
                                  "local folder data_dir/artifacts")
    push_audience: str | None = Field(
        default=None, description="HARNESS_PUSH_AUDIENCE: OIDC audience expected on Pub/Sub "
                                  "push requests (unset = tokens not verified)")
    push_service_account: str | None = Field(
        default=None, description="HARNESS_PUSH_SERVICE_ACCOUNT: the e-mail push tokens must "
                                  "carry")
    judge_model: str = Field(default="openai/gpt-4o-mini", description="HARNESS_JUDGE_MODEL")
    delivery: str = Field(default="push", description="HARNESS_DELIVERY with the Pub/Sub bus: "
                                                      "push (Cloud Run) | pull (local stack)")
    pubsub_ensure_topology: bool = Field(
        default=False, description="HARNESS_PUBSUB_ENSURE_TOPOLOGY: create topics and pull "
                                   "subscriptions at start-up (local stack; Terraform does it "
                                   "on GCP)")
    pubsub_ack_deadline_s: int = Field(default=60, ge=10, le=600,
                                       description="HARNESS_PUBSUB_ACK_DEADLINE_S for the "
                                                   "subscriptions ensure_topology creates")
    pubsub_pull_streams: int = Field(
        default=4, ge=1, le=32, description="HARNESS_PUBSUB_PULL_STREAMS: streaming pulls a "
                                            "pull consumer opens per subscription "
                                            "(HARNESS_DELIVERY=pull)")
    run_shard_items: int = Field(
        default=250, ge=1, description="HARNESS_RUN_SHARD_ITEMS: case × target × repeat items "
                                       "per shard of a run (each shard is one work item any "
                                       "runner instance takes)")
    runner_workers: int = Field(
        default=0, ge=0, description="HARNESS_RUNNER_WORKERS: runner processes of the local "
                                     "stack (`harness up`, `harness run`; --workers); 0 = one "
                                     "per core")
    runner_shards_at_once: int = Field(
        default=2, ge=1, description="HARNESS_RUNNER_SHARDS_AT_ONCE: shards one runner instance "
                                     "takes from Pub/Sub at a time (pull delivery; on Cloud "
                                     "Run the service's concurrency bounds pushes), so the "
                                     "other instances get the rest")
    runner_max_wait_s: float = Field(
        default=540.0, description="HARNESS_RUNNER_MAX_WAIT_S: how long a push request waits "
                                   "for its run before asking Pub/Sub to redeliver")
    scorer_max_wait_s: float = Field(
        default=540.0, description="HARNESS_SCORER_MAX_WAIT_S: how long a push request waits "
                                   "for a run's scoring before asking Pub/Sub to redeliver")
    scorer_messages_at_once: int | None = Field(
        default=None, ge=1, description="HARNESS_SCORER_MESSAGES_AT_ONCE: messages (runs, "
                                        "scoring shards, sampled traces) one scorer instance "
                                        "takes from Pub/Sub at a time (pull delivery); unset: "
                                        "the client's default")
    otlp_endpoint: str | None = Field(
        default=None, description="HARNESS_OTLP_ENDPOINT: OpenTelemetry collector (OTLP/HTTP, "
                                  "e.g. http://127.0.0.1:4318) that receives the spans of LLM "
                                  "calls (gateway, runner, scorer, generator) and of the runs, "
                                  "cases and gateway requests around them; unset = no export")
    otel_content: Literal["off", "masked", "full"] = Field(
        default="masked", description="HARNESS_OTEL_CONTENT: the prompts and answers exported "
                                      "spans carry: off (none), masked (personal data "
                                      "replaced, harness.pii) or full")
    otel_project: str = Field(
        default="harness", description="HARNESS_OTEL_PROJECT: the Phoenix project of exported "
                                       "spans (resource attribute openinference.project.name)")
    otel_environment: str | None = Field(
        default=None, description="HARNESS_OTEL_ENVIRONMENT: deployment environment of "
                                  "exported spans (deployment.environment.name; Langfuse's "
                                  "environment), e.g. production")
    llm_deployments: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='HARNESS_LLM_DEPLOYMENTS: endpoints and credentials of the models the '
                    'runner, scorer and generator call, as JSON {model: {"api_base": ..., '
                    '"api_key": ...}} ("*" = every model not listed); requests carry only '
                    'LLM options')
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024,
        description="HARNESS_MAX_BODY_BYTES: largest request body (JSON) of the registry's "
                    "routes; larger ones get a 413")
    max_upload_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024,
        description="HARNESS_MAX_UPLOAD_BYTES: largest dataset import, run import, document "
                    "upload (generation) or gateway request (/v1)")
    max_prompt_bytes: int = Field(
        default=1024 * 1024, ge=1,
        description="HARNESS_MAX_PROMPT_BYTES: largest prompt version content (UTF-8 bytes "
                    "of the text or of all message contents)")
    bootstrap_key_sha256: str | None = Field(
        default=None, description="HARNESS_BOOTSTRAP_KEY_SHA256: the registry makes sure an "
                                  "editor key with this hash (named harness-services) exists")

    # ---- signed webhooks (the registry delivers them; README "Webhooks") ---------------
    webhook_allowed_networks: str | None = Field(
        default=None, description="HARNESS_WEBHOOK_ALLOWED_NETWORKS: comma-separated networks "
                                  "(CIDR) webhooks may reach besides public addresses, e.g. "
                                  "10.0.0.0/8; unset: loopback for the local stack "
                                  "(HARNESS_SERVICE=harness), none for a deployed registry")
    webhook_backoff_s: float = Field(
        default=10.0, gt=0, description="HARNESS_WEBHOOK_BACKOFF_S: wait before retrying a "
                                        "failed delivery; doubles with each attempt")
    webhook_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="HARNESS_WEBHOOK_BACKOFF_MAX_S: the longest wait "
                                          "between attempts")
    webhook_max_failures: int = Field(
        default=20, ge=1, description="HARNESS_WEBHOOK_MAX_FAILURES: failed attempts in a "
                                      "row after which a webhook is disabled")
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="HARNESS_WEBHOOK_TIMEOUT_S: how long a "
                                                "receiver may take to answer")
    webhook_poll_s: float = Field(
        default=1.0, gt=0, description="HARNESS_WEBHOOK_POLL_S: how often the deliverer "
                                       "looks for retries that are due")
    webhook_concurrency: int = Field(
        default=8, ge=1, le=256, description="HARNESS_WEBHOOK_CONCURRENCY: deliveries in "
                                             "flight at once (one per subscription and "
                                             "stream at a time)")
    score_alert_webhook: str | None = Field(
        default=None, description="HARNESS_SCORE_ALERT_WEBHOOK: default webhook of score "
                                  "alerts that name none (README \"Score alerts\")")
    score_alert_check_s: float = Field(
        default=60.0, gt=0, description="HARNESS_SCORE_ALERT_CHECK_S: how often score alerts "
                                        "are checked besides after each recorded score")

    # ---- bounds on work one request can cause (README "Limits") -------------------------
    regex_timeout_s: float = Field(
        default=1.0, gt=0, le=60, description="HARNESS_REGEX_TIMEOUT_S: how long one user "
                                              "regex (a regex assertion) may match before it "
                                              "fails as timed out")
    stream_lock_wait_s: float = Field(
        default=5.0, gt=0, le=600, description="HARNESS_STREAM_LOCK_WAIT_S: how long a write "
                                               "waits for other writes to the same stream "
                                               "before it is refused (503, Retry-After)")
    render_max_chars: int = Field(
        default=2_000_000, ge=1, description="HARNESS_RENDER_MAX_CHARS: the most text one "
                                             "template render may produce")
    render_max_steps: int = Field(
        default=1_000_000, ge=1, description="HARNESS_RENDER_MAX_STEPS: loop iterations, calls "
                                             "and filters one render may execute")
    render_timeout_s: float = Field(
        default=2.0, gt=0, le=600, description="HARNESS_RENDER_TIMEOUT_S: how long one render "
                                               "may run")

    # ---- `harness eval`'s tools: code assertions, meteor, the promptfoo engine --------
    script_timeout_s: float = Field(
        default=30.0, description="HARNESS_SCRIPT_TIMEOUT_S: how long a python or "
                                  "javascript assertion (or transform) may run; a value "
                                  "that is not a number means the default")
    wordnet_dir: Path | None = Field(
        default=None, description="HARNESS_WORDNET_DIR: a WordNet 3 'dict' folder for "
                                  "meteor, looked in first")
    promptfoo_dir: Path | None = Field(
        default=None, description="HARNESS_PROMPTFOO_DIR: the one folder the private Node "
                                  "22 + promptfoo install is looked for and installed in; "
                                  "unset = promptfoo_data_dir/promptfoo, then the "
                                  "repository's .harness/promptfoo")
    promptfoo_data_dir: Path = Field(
        default=Path(".harness"), validation_alias="HARNESS_DATA_DIR",
        description="HARNESS_DATA_DIR as given (HARNESS_HOME does not count), else "
                    ".harness: where the private promptfoo install goes when "
                    "HARNESS_PROMPTFOO_DIR is unset")
    promptfoo_install: bool = Field(
        default=True, description="HARNESS_PROMPTFOO_INSTALL: install promptfoo on first "
                                  "use of --engine promptfoo; 0, false or no turn it off")

    # ---- the gateway (services/gateway/config.py: GatewaySettings.from_settings) -------
    gateway_aliases: Annotated[dict[str, Any], NoDecode] = Field(
        default_factory=dict, description='HARNESS_GATEWAY_ALIASES: JSON {alias: model or '
                                          '[model, fallback, ...]}, over the aliases file')
    gateway_aliases_file: Path | None = Field(
        default=None, description="HARNESS_GATEWAY_ALIASES_FILE: YAML with the same mapping "
                                  "(under `aliases:` or at the top)")
    gateway_deployments: Annotated[dict[str, dict[str, Any]], NoDecode] = Field(
        default_factory=dict, description="HARNESS_GATEWAY_DEPLOYMENTS: LiteLLM params per "
                                          "model as JSON ('*' = every model not listed); "
                                          "empty = HARNESS_LLM_DEPLOYMENTS")
    gateway_prices: Annotated[dict[str, dict[str, float]], NoDecode] = Field(
        default_factory=dict, description="HARNESS_GATEWAY_PRICES: JSON {model: "
                                          "{input_cost_per_token, output_cost_per_token}} "
                                          "over LiteLLM's map")
    gateway_retries: int = Field(default=2, description="HARNESS_GATEWAY_RETRIES per model")
    gateway_timeout_s: float = Field(default=60.0, description="HARNESS_GATEWAY_TIMEOUT_S")
    gateway_cooldown_s: float = Field(default=30.0, description="HARNESS_GATEWAY_COOLDOWN_S")
    gateway_allowed_fails: int = Field(
        default=1, description="HARNESS_GATEWAY_ALLOWED_FAILS: failed calls (after retries) "
                               "before a model cools down")
    gateway_pii_policy: str = Field(
        default="mask", description="HARNESS_GATEWAY_PII_POLICY of keys that set none")
    gateway_default_max_tokens: int = Field(
        default=1024, description="HARNESS_GATEWAY_DEFAULT_MAX_TOKENS: the output bound of "
                                  "a budgeted request that sets none")
    gateway_trace_retention_days: int = Field(
        default=30, description="HARNESS_GATEWAY_TRACE_RETENTION_DAYS")
    gateway_store_bodies: bool = Field(
        default=True, description="HARNESS_GATEWAY_STORE_BODIES: only `false` stores no "
                                  "request and response bodies in traces")
    gateway_alert_webhook: str | None = Field(
        default=None, description="HARNESS_GATEWAY_ALERT_WEBHOOK: default webhook of cost "
                                  "alerts that name none")
    gateway_alert_check_s: float = Field(
        default=15.0, description="HARNESS_GATEWAY_ALERT_CHECK_S: how often cost alerts are "
                                  "checked besides after each trace batch")
    metrics_port: int | None = Field(
        default=None, description="HARNESS_METRICS_PORT: also serve /metrics without a key "
                                  "on 127.0.0.1:<port> only (the Prometheus sidecar on Cloud "
                                  "Run); unset = no such listener")
    gateway_metrics_public: bool = Field(
        default=False, description="HARNESS_GATEWAY_METRICS_PUBLIC: 1, true or yes serve "
                                   "/metrics without a key")

    @field_validator("script_timeout_s", mode="before")
    @classmethod
    def _number_or_default(cls, value: Any) -> Any:
        try:
            return float(value)
        except (TypeError, ValueError):
            return 30.0

    @field_validator("wordnet_dir", "promptfoo_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("promptfoo_install", mode="before")
    @classmethod
    def _off_only_when_said(cls, value: Any) -> bool:
        return str(value).lower() not in ("0", "false", "no")

    @field_validator("gateway_aliases", "gateway_deployments", "gateway_prices",
                     mode="before")
    @classmethod
    def _json_object(cls, value: Any, info) -> Any:
        """JSON from the environment; empty = unset."""
        if not isinstance(value, str):
            return value
        if not value:
            return {}
        try:
            return json.loads(value)
        except ValueError as exc:
            raise ValueError(f"HARNESS_{info.field_name.upper()} is not valid JSON: "
                             f"{exc}") from exc

    @field_validator("gateway_store_bodies", mode="before")
    @classmethod
    def _on_unless_false(cls, value: Any) -> bool:
        return str(value).lower() != "false"

    @field_validator("gateway_metrics_public", mode="before")
    @classmethod
    def _on_only_when_said(cls, value: Any) -> bool:
        return str(value).lower() in ("1", "true", "yes")

    @field_validator("gateway_aliases_file", "gateway_alert_webhook", "score_alert_webhook",
                     "metrics_port", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
