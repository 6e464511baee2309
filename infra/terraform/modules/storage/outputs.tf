output "bucket" {
  description = "The artifacts bucket's name."
  value       = google_storage_bucket.artifacts.name
}

output "uri" {
  description = "HARNESS_ARTIFACTS_URI."
  value       = "gs://${google_storage_bucket.artifacts.name}"
}
