# What each service reads from its environment (libs/harness/config.py, Settings).
# ONE map per service: local.env[name] = common_env + HARNESS_SERVICE + service_env[name];
# secrets come from Secret Manager through local.secret_env[name] (variable => logical
# secret name, see modules/secrets). PORT is set by Cloud Run itself (container port,
# local.service_port); HARNESS_METRICS_PORT is the loopback listener the Prometheus
# sidecar scrapes (local.metrics_port, main.tf).
# tests/unit/test_terraform.py reads these three locals and checks them against Settings.

locals {
  registry_url = var.registry_url != "" ? var.registry_url : var.service_urls["registry"]

  common_env = {
    HARNESS_BUS          = "pubsub"
    GOOGLE_CLOUD_PROJECT = var.project_id
    HARNESS_TOPIC_PREFIX = var.prefix
    HARNESS_LOG_JSON     = "true"
    HARNESS_LOG_LEVEL    = var.log_level
    HARNESS_HOST         = "0.0.0.0" # Cloud Run sends traffic to the container's port on all interfaces
  }

  service_env = {
    registry = {
      HARNESS_ARTIFACTS_URI        = var.artifacts_uri
      HARNESS_PUSH_AUDIENCE        = var.service_urls["registry"]
      HARNESS_PUSH_SERVICE_ACCOUNT = var.push_service_account
      HARNESS_BOOTSTRAP_KEY_SHA256 = var.service_key_sha256
      HARNESS_POOL_MIN_SIZE        = "1"
      HARNESS_POOL_MAX_SIZE        = tostring(var.db_pool_max_size)
      HARNESS_METRICS_PORT         = tostring(local.metrics_port)
      # the public /metrics without a key too (var.metrics_public; the sidecar needs not)
      HARNESS_GATEWAY_METRICS_PUBLIC = tostring(var.metrics_public)
    }
    runner = {
      HARNESS_URL                  = local.registry_url
      HARNESS_ARTIFACTS_URI        = var.artifacts_uri
      HARNESS_PUSH_AUDIENCE        = var.service_urls["runner"]
      HARNESS_PUSH_SERVICE_ACCOUNT = var.push_service_account
      HARNESS_JUDGE_MODEL          = var.judge_model
      HARNESS_METRICS_PORT         = tostring(local.metrics_port)
    }
    scorer = {
      HARNESS_URL                  = local.registry_url
      HARNESS_ARTIFACTS_URI        = var.artifacts_uri
      HARNESS_PUSH_AUDIENCE        = var.service_urls["scorer"]
      HARNESS_PUSH_SERVICE_ACCOUNT = var.push_service_account
      HARNESS_JUDGE_MODEL          = var.judge_model
      HARNESS_METRICS_PORT         = tostring(local.metrics_port)
    }
    generator = {
      HARNESS_URL                  = local.registry_url
      HARNESS_ARTIFACTS_URI        = var.artifacts_uri
      HARNESS_PUSH_AUDIENCE        = var.service_urls["generator"]
      HARNESS_PUSH_SERVICE_ACCOUNT = var.push_service_account
      HARNESS_JUDGE_MODEL          = var.judge_model
      HARNESS_METRICS_PORT         = tostring(local.metrics_port)
    }
    gateway = {
      HARNESS_URL           = local.registry_url
      HARNESS_POOL_MIN_SIZE = "1"
      HARNESS_POOL_MAX_SIZE = tostring(var.gateway_db_pool_max_size)
      HARNESS_METRICS_PORT  = tostring(local.metrics_port)
      # a gateway that starts before the registry on a fresh database is closed too
      HARNESS_BOOTSTRAP_KEY_SHA256   = var.service_key_sha256
      HARNESS_GATEWAY_METRICS_PUBLIC = tostring(var.metrics_public)
    }
    studio = {
      HARNESS_URL = local.registry_url
      # public: visitors sign in with their own keys; iap/private: the studio acts with the
      # services' key for visitors the proxy or IAM already vetted (harness.open_mode)
      HARNESS_STUDIO_ACCESS = lookup(var.access, "studio", "public")
    }
  }

  # Secret env vars: name => logical secret name (modules/secrets), not the secret itself.
  llm_secret_env = {
    HARNESS_API_KEY   = "api-key"
    OPENAI_API_KEY    = "openai"
    ANTHROPIC_API_KEY = "anthropic" # checkov:skip=CKV_SECRET_6:the logical name of a Secret Manager secret, not a secret
  }

  secret_env = {
    registry  = { DATABASE_URL = "database-url" }
    runner    = local.llm_secret_env
    scorer    = local.llm_secret_env
    generator = local.llm_secret_env
    gateway = {
      DATABASE_URL      = "database-url"
      HARNESS_API_KEY   = "api-key"
      OPENAI_API_KEY    = "openai"
      ANTHROPIC_API_KEY = "anthropic" # checkov:skip=CKV_SECRET_6:the logical name of a Secret Manager secret, not a secret
    }
    studio = { HARNESS_API_KEY = "api-key" }
  }

  env = {
    for name in keys(local.services) :
    name => merge(local.common_env, { HARNESS_SERVICE = name }, local.service_env[name])
  }

  # One accessor grant per (service, secret) it reads: exactly the secrets in its env.
  secret_readers = {
    for pair in flatten([
      for name, secrets in local.secret_env : [for env_name, secret in secrets : { service = name, secret = secret }]
    ]) : "${pair.service}-${pair.secret}" => pair
  }
}
