variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "prefix" {
  description = "Name prefix of service accounts (account ids are 6-30 characters)."
  type        = string
}

variable "services" {
  description = "The services, one service account each."
  type        = list(string)
}

variable "topics" {
  description = "Per topic key: id, dead_letter_id and publishers (from modules/pubsub)."
  type = map(object({
    id              = string
    name            = string
    dead_letter_id  = string
    publishers      = list(string)
    dead_letter_sub = string
  }))
}

variable "source_subscriptions" {
  description = "Subscriptions with a dead-letter policy, by key."
  type        = map(string)
}

variable "registry_events_example_enabled" {
  description = "Whether the example downstream subscription exists."
  type        = bool
  default     = false
}

variable "registry_events_example_subscription" {
  description = "Id of the example downstream subscription, or null."
  type        = string
  default     = null
}

variable "registry_events_subscribers" {
  description = "Principals (for example serviceAccount:app@p.iam.gserviceaccount.com) that pull the example subscription."
  type        = list(string)
  default     = []
}

variable "pubsub_service_agent" {
  description = "E-mail of Pub/Sub's service agent."
  type        = string
}

variable "artifacts_bucket" {
  description = "Name of the artifacts bucket."
  type        = string
}

variable "sql_instance_name" {
  description = "Name of the Cloud SQL instance the registry connects to."
  type        = string
}
