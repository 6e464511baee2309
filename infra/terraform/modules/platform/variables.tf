variable "project_id" {
  description = "The GCP project (one project per environment is recommended)."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Cloud SQL, the bucket and the image repository."
  type        = string
}

variable "environment" {
  description = "dev or prod (a label)."
  type        = string
}

variable "prefix" {
  description = "Prefix of every name; also HARNESS_TOPIC_PREFIX. Keep the code's default unless two stacks share a project."
  type        = string
  default     = "harness-"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}-$", var.prefix))
    error_message = "prefix: lowercase, starts with a letter, ends with '-', at most 13 characters (service account ids are limited to 30)."
  }
}

variable "image_tag" {
  description = "Tag of the images to run (tools/deploy.sh passes the git commit)."
  type        = string
}

variable "registry_url" {
  description = "Registry URL for clients if it has a custom domain; empty = its run.app URL."
  type        = string
  default     = ""
}

variable "access" {
  description = "public | iap | private for registry, gateway, studio (see modules/services)."
  type        = map(string)
  default = {
    registry = "public"
    gateway  = "public"
    studio   = "public"
  }
}

variable "iap_members" {
  description = "Principals allowed through IAP."
  type        = list(string)
  default     = []
}

variable "invoker_members" {
  description = "Principals allowed to invoke services with access = private."
  type        = list(string)
  default     = []
}

variable "sizing" {
  description = "Per-service overrides: cpu, memory, min_instances, max_instances, concurrency, timeout_seconds, cpu_always_allocated."
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

variable "db_pool_max_size" {
  description = "Database connections per registry instance."
  type        = number
  default     = 5
}

variable "judge_model" {
  description = "HARNESS_JUDGE_MODEL."
  type        = string
  default     = "openai/gpt-4o-mini"
}

variable "egress_cidr" {
  description = "Subnet range for Cloud Run's Direct VPC egress."
  type        = string
  default     = "10.8.0.0/24"
}

variable "sql_tier" {
  description = "Cloud SQL machine tier."
  type        = string
  default     = "db-f1-micro"
}

variable "sql_high_availability" {
  description = "Regional (HA) Cloud SQL instance."
  type        = bool
  default     = false
}

variable "sql_deletion_protection" {
  description = "Deletion protection on the Cloud SQL instance."
  type        = bool
  default     = true
}

variable "services_deletion_protection" {
  description = "Deletion protection on Cloud Run services and the admin job."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let `terraform destroy` empty the buckets (dev only)."
  type        = bool
  default     = false
}

variable "max_delivery_attempts" {
  description = "Push deliveries before a message is dead-lettered."
  type        = number
  default     = 5
}

variable "registry_events_example_subscription" {
  description = "Create an example pull subscription on registry-events for a downstream app."
  type        = bool
  default     = false
}

variable "registry_events_subscribers" {
  description = "Principals that may pull the example registry-events subscription."
  type        = list(string)
  default     = []
}

variable "openai_api_key" {
  description = "Optional first version of the OpenAI key secret (prefer gcloud secrets versions add)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "anthropic_api_key" {
  description = "Optional first version of the Anthropic key secret."
  type        = string
  default     = ""
  sensitive   = true
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key (same region) for CMEK on Cloud SQL, the bucket, topics, secrets and images."
  type        = string
  default     = null
}

variable "alert_emails" {
  description = "Where alerts and budget notices go."
  type        = list(string)
  default     = []
}

variable "billing_account" {
  description = "Billing account id for the budget alert; empty = no budget."
  type        = string
  default     = ""
}

variable "monthly_budget" {
  description = "Monthly budget (billing account currency)."
  type        = number
  default     = 100
}

variable "budget_currency" {
  description = "The billing account's currency."
  type        = string
  default     = "USD"
}

variable "labels" {
  description = "Extra labels on resources."
  type        = map(string)
  default     = {}
}
