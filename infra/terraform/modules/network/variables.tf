variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run egress subnet."
  type        = string
}

variable "prefix" {
  description = "Name prefix of every resource (for example harness-)."
  type        = string
}

variable "egress_cidr" {
  description = "Range of the subnet Cloud Run's Direct VPC egress takes instance addresses from (at least /26)."
  type        = string
  default     = "10.8.0.0/24"
}

variable "private_services_prefix_length" {
  description = "Size of the range reserved for Cloud SQL's private IP (private services access)."
  type        = number
  default     = 20
}

variable "flow_log_sampling" {
  description = "Share of VPC flows logged (0-1); the only traffic here is Cloud Run to Cloud SQL."
  type        = number
  default     = 0.5
}
