variable "project_id" {
  description = "The GCP project."
  type        = string
}

variable "project_number" {
  description = "The project's number (the budget's filter)."
  type        = string
}

variable "prefix" {
  description = "Name prefix of services and subscriptions the alerts watch."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses alerts and budget notices go to."
  type        = list(string)
  default     = []
}

variable "max_delivery_attempts" {
  description = "Delivery attempts before dead-lettering (for the alert's text)."
  type        = number
  default     = 5
}

variable "error_ratio_threshold" {
  description = "Share of 5xx answers (0-1) per service that raises the alert."
  type        = number
  default     = 0.05
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) for the budget; empty = no budget."
  type        = string
  default     = ""
}

variable "monthly_budget" {
  description = "Monthly budget amount, in var.budget_currency (must be the billing account's currency)."
  type        = number
  default     = 100
}

variable "budget_currency" {
  description = "Currency of the billing account."
  type        = string
  default     = "USD"
}
