variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "project_number" {
  description = "The project's number (IAP's service agent e-mail)."
  type        = string
}

variable "region" {
  description = "Cloud Run region."
  type        = string
}

variable "prefix" {
  description = "Service name prefix; also HARNESS_TOPIC_PREFIX."
  type        = string
}

variable "service_urls" {
  description = "Deterministic run.app URL per service (push audiences, HARNESS_URL)."
  type        = map(string)
}

variable "registry_url" {
  description = "URL clients use for the registry (HARNESS_URL), for example a custom domain; empty = its run.app URL."
  type        = string
  default     = ""
}

variable "service_accounts" {
  description = "Service account e-mail per service."
  type        = map(string)
}

variable "push_service_account" {
  description = "E-mail of the Pub/Sub push service account."
  type        = string
}

variable "image_repository" {
  description = "REGION-docker.pkg.dev/PROJECT/REPOSITORY; images are REPOSITORY/<service>:<tag>."
  type        = string
}

variable "image_tag" {
  description = "Image tag to deploy (tools/deploy.sh uses the git commit)."
  type        = string
}

variable "artifacts_uri" {
  description = "HARNESS_ARTIFACTS_URI (gs://bucket)."
  type        = string
}

variable "sql_connection_name" {
  description = "Cloud SQL instance connection name (PROJECT:REGION:INSTANCE)."
  type        = string
}

variable "network" {
  description = "VPC name for the registry's Direct VPC egress."
  type        = string
}

variable "subnetwork" {
  description = "Subnet name for the registry's Direct VPC egress."
  type        = string
}

variable "secret_ids" {
  description = "Secret id per logical secret name (from modules/secrets)."
  type        = map(string)
}

variable "secret_names" {
  description = "Secret name per logical secret name (from modules/secrets)."
  type        = map(string)
}

variable "service_key_sha256" {
  description = "SHA-256 of the generated service API key (HARNESS_BOOTSTRAP_KEY_SHA256 for the registry and the gateway)."
  type        = string
}

variable "wait_for" {
  description = "Ids of resources the revisions need before they start (secret versions, grants)."
  type        = list(string)
  default     = []
}

variable "access" {
  description = <<-EOT
    How each public-facing service is reached: "public" (anyone; harness API keys or the
    app's own login authenticate), "iap" (Identity-Aware Proxy on the service) or
    "private" (only var.invoker_members, with Google-signed ID tokens).
    The registry must stay "public": Pub/Sub push (blocked by IAP), the workers and
    downstream SDKs (which send harness API keys, not ID tokens) all call it. Runner,
    scorer and generator are always internal-only.
  EOT
  type        = map(string)
  default = {
    registry = "public"
    gateway  = "public"
    studio   = "public"
  }

  validation {
    condition     = alltrue([for k, v in var.access : contains(["registry", "gateway", "studio"], k) && contains(["public", "iap", "private"], v)])
    error_message = "access: keys registry, gateway, studio; values public, iap or private."
  }

  validation {
    condition     = lookup(var.access, "registry", "public") == "public"
    error_message = "The registry must be public: Pub/Sub push requests (which IAP blocks), the workers and SDK clients (harness API keys, no ID tokens) reach it; API keys protect it."
  }
}

variable "iap_members" {
  description = "Principals allowed through IAP (user:, group:, domain:) for services with access = iap."
  type        = list(string)
  default     = []
}

variable "invoker_members" {
  description = "Principals allowed to invoke services with access = private."
  type        = list(string)
  default     = []
}

variable "sizing" {
  description = "Per-service overrides of CPU, memory, instances, concurrency, timeout, CPU allocation (see local.default_sizing)."
  type = map(object({
    cpu                  = optional(string)
    memory               = optional(string)
    min_instances        = optional(number)
    max_instances        = optional(number)
    concurrency          = optional(number)
    timeout_seconds      = optional(number)
    cpu_always_allocated = optional(bool)
  }))
  default = {}
}

variable "gateway_db_pool_max_size" {
  description = "Connections per gateway instance (counts against the same max_connections as the registry's: registry and gateway max instances times their pools must stay under it)."
  type        = number
  default     = 3
}

variable "db_pool_max_size" {
  description = "Connections per registry instance (times max instances must stay under the tier's max_connections; db-f1-micro allows 25)."
  type        = number
  default     = 5
}

variable "judge_model" {
  description = "HARNESS_JUDGE_MODEL (LiteLLM model name)."
  type        = string
  default     = "openai/gpt-4o-mini"
}

variable "log_level" {
  description = "HARNESS_LOG_LEVEL."
  type        = string
  default     = "INFO"
}

variable "deletion_protection" {
  description = "Refuse to delete services and the admin job."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on services."
  type        = map(string)
  default     = {}
}

variable "managed_prometheus" {
  description = <<-EOT
    Run the Managed Service for Prometheus sidecar beside every service but the studio:
    it scrapes the service's loopback metrics listener (localhost:8080/metrics, no API key
    needed, every 30 s) into Cloud Monitoring, where the harness_* metrics answer PromQL
    (infra/grafana dashboards).
  EOT
  type        = bool
  default     = true
}

variable "prometheus_sidecar_image" {
  description = "The Managed Service for Prometheus sidecar for Cloud Run."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
}

variable "metrics_public" {
  description = <<-EOT
    HARNESS_GATEWAY_METRICS_PUBLIC of the registry and the gateway: serve their public
    /metrics without a key, for a scraper outside Cloud Run. Cloud Monitoring needs not:
    the sidecars scrape the loopback listener, which needs no key. Left false, the public
    /metrics needs a key with the role `metrics` (the workers' is open; they are
    internal-only). The metrics carry model, application and prompt names, never ids or
    content.
  EOT
  type        = bool
  default     = false
}
