variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "region" {
  description = "Repository location (the Cloud Run region)."
  type        = string
}

variable "prefix" {
  description = "Name prefix (for example harness-)."
  type        = string
}

variable "keep_versions" {
  description = "Most recent image versions always kept per image (rollback targets)."
  type        = number
  default     = 10
}

variable "delete_after_days" {
  description = "Older images than this are deleted unless among the most recent ones."
  type        = number
  default     = 90
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for customer-managed encryption (null = Google-managed)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the repository."
  type        = map(string)
  default     = {}
}
