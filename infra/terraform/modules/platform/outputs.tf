# No secret values here: the database password and API keys stay in Secret Manager.

output "service_urls" {
  description = "URL per service."
  value       = module.services.urls
}

output "image_repository" {
  description = "Where tools/deploy.sh pushes images."
  value       = module.images.repository
}

output "artifacts_bucket" {
  description = "The artifacts bucket."
  value       = module.storage.bucket
}

output "sql_connection_name" {
  description = "Cloud SQL connection name (for the Cloud SQL Auth Proxy)."
  value       = module.sql.connection_name
}

output "admin_job" {
  description = "Cloud Run job for harness CLI commands."
  value       = module.services.admin_job
}

output "push_service_account" {
  description = "The Pub/Sub push identity."
  value       = module.iam.push_service_account
}

output "service_api_key_secret" {
  description = "Secret holding the services' API key (read it with gcloud if you need it)."
  value       = module.secrets.names["api-key"]
}
