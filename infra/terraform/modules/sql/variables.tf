variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "region" {
  description = "Region of the instance (the same as Cloud Run's)."
  type        = string
}

variable "prefix" {
  description = "Name prefix (for example harness-)."
  type        = string
}

variable "network_id" {
  description = "VPC the instance gets its private IP in."
  type        = string
}

variable "database_url_secret_id" {
  description = "Secret Manager secret (id) that receives the DATABASE_URL version."
  type        = string
}

variable "tier" {
  description = "Machine tier: db-f1-micro (shared core, dev) or db-custom-CPU-MEMORY_MB (prod)."
  type        = string
  default     = "db-f1-micro"
}

variable "high_availability" {
  description = "REGIONAL (standby in a second zone) instead of ZONAL; doubles the instance cost."
  type        = bool
  default     = false
}

variable "disk_size_gb" {
  description = "Initial SSD size; grows automatically."
  type        = number
  default     = 10
}

variable "backup_start_time" {
  description = "Daily backup window start (HH:MM, UTC)."
  type        = string
  default     = "02:00"
}

variable "retained_backups" {
  description = "Daily backups kept."
  type        = number
  default     = 7
}

variable "log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7)."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (Terraform and Cloud SQL API)."
  type        = bool
  default     = true
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for customer-managed encryption (null = Google-managed)."
  type        = string
  default     = null
}

variable "database_name" {
  description = "Database the registry uses."
  type        = string
  default     = "harness"
}

variable "user_name" {
  description = "Database user the registry connects as."
  type        = string
  default     = "harness"
}

variable "labels" {
  description = "Labels on the instance."
  type        = map(string)
  default     = {}
}
