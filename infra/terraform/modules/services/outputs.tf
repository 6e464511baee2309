output "urls" {
  description = "URL per service, as Cloud Run reports it."
  value       = { for k, s in google_cloud_run_v2_service.service : k => s.uri }
}

output "names" {
  description = "Cloud Run service name per service."
  value       = { for k, s in google_cloud_run_v2_service.service : k => s.name }
}

output "admin_job" {
  description = "Name of the Cloud Run job that runs harness CLI commands."
  value       = google_cloud_run_v2_job.admin.name
}
