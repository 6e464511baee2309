output "service_accounts" {
  description = "Service account e-mail per service."
  value       = { for k, sa in google_service_account.service : k => sa.email }
}

output "push_service_account" {
  description = "E-mail of the push service account (HARNESS_PUSH_SERVICE_ACCOUNT)."
  value       = google_service_account.push.email
}

output "grants" {
  description = "Ids of the grants services need at run time (services are created after them)."
  value = concat(
    [for m in google_pubsub_topic_iam_member.publisher : m.id],
    [for m in google_storage_bucket_iam_member.artifacts : m.id],
    [for m in google_project_iam_member.sql_client : m.id],
  )
}
