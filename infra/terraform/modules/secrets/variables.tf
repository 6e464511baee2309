variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "region" {
  description = "Where secret payloads are stored (user-managed replication, one region)."
  type        = string
}

variable "prefix" {
  description = "Name prefix (for example harness-)."
  type        = string
}

variable "openai_api_key" {
  description = "Optional OpenAI key for the first secret version (empty = placeholder; add the real one with gcloud)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "anthropic_api_key" {
  description = "Optional Anthropic key for the first secret version (empty = placeholder)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key (in var.region) for customer-managed encryption of secret payloads."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the secrets."
  type        = map(string)
  default     = {}
}
