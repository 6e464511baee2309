output "project_number" {
  description = "The project's number (part of deterministic Cloud Run URLs and service agent e-mails)."
  value       = data.google_project.this.number
}

output "pubsub_service_agent" {
  description = "E-mail of Pub/Sub's service agent."
  value       = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

output "apis" {
  description = "The enabled APIs (depend on this to order resources after enablement)."
  value       = [for s in google_project_service.api : s.service]
}

output "pubsub_identity" {
  description = "Pub/Sub service identity resource id (forces its creation first)."
  value       = google_project_service_identity.pubsub.id
}
