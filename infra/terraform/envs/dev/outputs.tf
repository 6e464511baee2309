output "service_urls" {
  description = "URL per service."
  value       = module.platform.service_urls
}

output "image_repository" {
  description = "Where images are pushed."
  value       = module.platform.image_repository
}

output "artifacts_bucket" {
  description = "The artifacts bucket."
  value       = module.platform.artifacts_bucket
}

output "sql_connection_name" {
  description = "Cloud SQL connection name."
  value       = module.platform.sql_connection_name
}

output "admin_job" {
  description = "Cloud Run job for harness CLI commands."
  value       = module.platform.admin_job
}

output "service_api_key_secret" {
  description = "Secret holding the services' API key."
  value       = module.platform.service_api_key_secret
}
