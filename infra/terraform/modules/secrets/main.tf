# Secret Manager: the secrets services read as environment variables. Who may read which
# secret is decided next to the env maps (modules/services), one binding per secret.
#
# - database-url: written by modules/sql (the whole URL, password included).
# - api-key: an API key generated here for the services that call the registry
#   (HARNESS_API_KEY); the registry learns only its SHA-256 (HARNESS_BOOTSTRAP_KEY_SHA256).
# - openai, anthropic (openai-api-key, anthropic-api-key): provider keys. Put real values in with
#   `gcloud secrets versions add` (docs/deploy.md) or pass them as TF_VAR_* once; until
#   then the first version holds a placeholder and LLM calls fail with the provider's 401.

locals {
  # logical name (what modules/services refers to) => secret id suffix
  secrets = {
    database-url = "database-url"
    api-key      = "api-key"
    openai       = "openai-api-key"
    anthropic    = "anthropic-api-key"
  }
  provider_keys = {
    openai    = var.openai_api_key
    anthropic = var.anthropic_api_key
  }
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = "${var.prefix}${each.value}"
  labels    = var.labels

  replication {
    user_managed {
      replicas {
        location = var.region
        dynamic "customer_managed_encryption" {
          for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
          content {
            kms_key_name = customer_managed_encryption.value
          }
        }
      }
    }
  }
}

# 32 random bytes, URL-safe, with the prefix `harness keys create` uses.
resource "random_password" "api_key" {
  length           = 43
  special          = true
  override_special = "-_"
}

resource "google_secret_manager_secret_version" "api_key" {
  secret      = google_secret_manager_secret.secret["api-key"].id
  secret_data = "hk_${random_password.api_key.result}"
}

resource "google_secret_manager_secret_version" "provider_key" {
  for_each = local.provider_keys

  secret      = google_secret_manager_secret.secret[each.key].id
  secret_data = each.value == "" ? "unset" : each.value
}
