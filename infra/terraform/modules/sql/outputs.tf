# Deliberately no password and no DATABASE_URL here.

output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, for Cloud Run's Cloud SQL connection."
  value       = google_sql_database_instance.main.connection_name
}

output "instance_name" {
  description = "The instance's name."
  value       = google_sql_database_instance.main.name
}

output "database_url_version" {
  description = "Id of the DATABASE_URL secret version (services wait for it)."
  value       = google_secret_manager_secret_version.database_url.id
}
