# Secret ids only: values never leave through outputs.

output "ids" {
  description = "Secret id (projects/P/secrets/NAME) per logical name."
  value       = { for k, s in google_secret_manager_secret.secret : k => s.id }
}

output "names" {
  description = "Secret name (what Cloud Run's secret_key_ref takes) per logical name."
  value       = { for k, s in google_secret_manager_secret.secret : k => s.secret_id }
}

output "service_key_sha256" {
  description = "Hex SHA-256 of the generated service API key (what the registry stores; not the key)."
  # A SHA-256 of 256 random bits reveals nothing about the key, so it may be shown.
  value = nonsensitive(sha256("hk_${random_password.api_key.result}"))
}

output "versions" {
  description = "Ids of the versions Terraform wrote (Cloud Run services wait for them)."
  value = concat(
    [google_secret_manager_secret_version.api_key.id],
    [for v in google_secret_manager_secret_version.provider_key : v.id],
  )
}
