variable "project_id" {
  description = "The GCP project (also the bucket names' prefix, for global uniqueness)."
  type        = string
}

variable "location" {
  description = "Bucket location (the Cloud Run region keeps reads free of inter-region egress)."
  type        = string
}

variable "prefix" {
  description = "Name prefix (for example harness-)."
  type        = string
}

variable "noncurrent_days" {
  description = "Days a replaced or deleted object version is kept."
  type        = number
  default     = 30
}

variable "noncurrent_versions" {
  description = "Older versions kept per object at most."
  type        = number
  default     = 3
}

variable "snapshot_nearline_days" {
  description = "Age after which dataset snapshots move to Nearline."
  type        = number
  default     = 30
}

variable "access_log_days" {
  description = "Days access logs are kept."
  type        = number
  default     = 90
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for customer-managed encryption (null = Google-managed)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the buckets."
  type        = map(string)
  default     = {}
}
