variable "project_id" {
  description = "The GCP project for dev."
  type        = string
}

variable "region" {
  description = "Region for everything."
  type        = string
  default     = "us-central1"
}

variable "prefix" {
  description = "Name prefix; also HARNESS_TOPIC_PREFIX."
  type        = string
  default     = "harness-"
}

variable "image_tag" {
  description = "Image tag to deploy (make deploy passes the git commit)."
  type        = string
}

variable "registry_url" {
  description = "Custom registry URL for clients; empty = its run.app URL."
  type        = string
  default     = ""
}

variable "access" {
  description = "public | iap | private for registry, gateway, studio."
  type        = map(string)
  default = {
    registry = "public"
    gateway  = "public"
    studio   = "public"
  }
}

variable "iap_members" {
  description = "Principals allowed through IAP (user:, group:, domain:)."
  type        = list(string)
  default     = []
}

variable "invoker_members" {
  description = "Principals allowed to invoke services with access = private."
  type        = list(string)
  default     = []
}

variable "sizing" {
  description = "Per-service overrides (cpu, memory, min_instances, max_instances, concurrency, timeout_seconds, cpu_always_allocated)."
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

variable "judge_model" {
  description = "HARNESS_JUDGE_MODEL."
  type        = string
  default     = "openai/gpt-4o-mini"
}

variable "sql_tier" {
  description = "Cloud SQL tier."
  type        = string
  default     = "db-f1-micro"
}

variable "sql_high_availability" {
  description = "Regional (HA) Cloud SQL."
  type        = bool
  default     = false
}

variable "db_pool_max_size" {
  description = "Database connections per registry instance."
  type        = number
  default     = 5
}

variable "registry_events_example_subscription" {
  description = "Create the example downstream pull subscription on registry-events."
  type        = bool
  default     = false
}

variable "registry_events_subscribers" {
  description = "Principals that may pull the example subscription."
  type        = list(string)
  default     = []
}

variable "openai_api_key" {
  description = "Optional first OpenAI key version (prefer gcloud secrets versions add)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "anthropic_api_key" {
  description = "Optional first Anthropic key version."
  type        = string
  default     = ""
  sensitive   = true
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for CMEK."
  type        = string
  default     = null
}

variable "alert_emails" {
  description = "Where alerts go."
  type        = list(string)
  default     = []
}

variable "billing_account" {
  description = "Billing account id for the budget; empty = no budget."
  type        = string
  default     = ""
}

variable "monthly_budget" {
  description = "Monthly budget in the billing account's currency."
  type        = number
  default     = 50
}

variable "budget_currency" {
  description = "The billing account's currency."
  type        = string
  default     = "USD"
}
