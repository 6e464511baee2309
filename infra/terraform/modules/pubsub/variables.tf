variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "prefix" {
  description = "Topic and subscription name prefix; the services get the same value as HARNESS_TOPIC_PREFIX."
  type        = string
}

variable "service_urls" {
  description = "Base URL per service (push endpoints and OIDC audiences)."
  type        = map(string)
}

variable "push_service_account_email" {
  description = "Service account whose OIDC tokens sign push requests."
  type        = string
}

variable "ack_deadline_seconds" {
  description = "Ack deadline per consumer: how long a push request may take before redelivery (10-600)."
  type        = map(number)
  default = {
    registry  = 60
    runner    = 600
    scorer    = 600
    generator = 600
  }
}

variable "minimum_backoff" {
  description = "Exponential backoff: first retry delay."
  type        = string
  default     = "10s"
}

variable "maximum_backoff" {
  description = "Exponential backoff: longest retry delay (at most 600s)."
  type        = string
  default     = "600s"
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (5-100)."
  type        = number
  default     = 5
}

variable "topic_retention" {
  description = "How long topics keep published messages, so a new or reset subscription can replay them."
  type        = string
  default     = "86400s"
}

variable "subscription_retention" {
  description = "How long subscriptions keep unacked messages (at most 7 days)."
  type        = string
  default     = "604800s"
}

variable "dead_letter_retention" {
  description = "How long dead letters wait on their subscription (at most 7 days)."
  type        = string
  default     = "604800s"
}

variable "registry_events_example_subscription" {
  description = "Create an example pull subscription on registry-events for a downstream app."
  type        = bool
  default     = false
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for customer-managed encryption of topics (null = Google-managed)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on topics and subscriptions."
  type        = map(string)
  default     = {}
}
