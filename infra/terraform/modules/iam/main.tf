# Identities and least-privilege grants. Every service runs as its own service account;
# every grant is on a single resource (topic, subscription, bucket, service account)
# except cloudsql.client, which only exists at project level and is narrowed to the one
# instance by an IAM condition. No primitive role (owner, editor, viewer) anywhere.
#
# Grants that belong to a Cloud Run service (who may invoke it, which secrets it reads)
# live next to it in modules/services.

locals {
  # Services that read or write artifacts (the gateway and the studio never touch them).
  artifact_users = toset(["registry", "runner", "scorer", "generator"])

  publishers = {
    for pair in flatten([
      for key, t in var.topics : [for p in t.publishers : { topic = key, service = p }]
    ]) : "${pair.topic}-${pair.service}" => pair
  }
}

resource "google_service_account" "service" {
  for_each = toset(var.services)

  project      = var.project_id
  account_id   = "${var.prefix}${each.key}"
  display_name = "harness ${each.key} (Cloud Run)"
}

# Signs the OIDC tokens Pub/Sub attaches to push requests; may only invoke services.
resource "google_service_account" "push" {
  project      = var.project_id
  account_id   = "${var.prefix}pubsub-push"
  display_name = "harness Pub/Sub push (OIDC)"
}

# --- Pub/Sub ---------------------------------------------------------------------------

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = local.publishers

  project = var.project_id
  topic   = var.topics[each.value.topic].id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.service[each.value.service].email}"
}

# Pull subscribers of the example downstream subscription (none by default).
resource "google_pubsub_subscription_iam_member" "example_subscriber" {
  for_each = var.registry_events_example_enabled ? toset(var.registry_events_subscribers) : toset([])

  project      = var.project_id
  subscription = var.registry_events_example_subscription
  role         = "roles/pubsub.subscriber"
  member       = each.value
}

# Pub/Sub's service agent mints the push OIDC tokens as the push service account ...
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${var.pubsub_service_agent}"
}

# ... forwards undeliverable messages to the dead-letter topics ...
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = var.topics

  project = var.project_id
  topic   = each.value.dead_letter_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.pubsub_service_agent}"
}

# ... and acknowledges the forwarded messages on the source subscriptions.
resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = var.source_subscriptions

  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${var.pubsub_service_agent}"
}

# --- Storage ---------------------------------------------------------------------------

resource "google_storage_bucket_iam_member" "artifacts" {
  for_each = local.artifact_users

  bucket = var.artifacts_bucket
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.service[each.key].email}"
}

# --- Cloud Monitoring: the Managed Service for Prometheus sidecars write the metrics ------

resource "google_project_iam_member" "metric_writer" {
  for_each = setsubtract(toset(var.services), ["studio"])

  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = "serviceAccount:${google_service_account.service[each.key].email}"
}

# --- Cloud SQL: the registry (the event store) and the gateway (keys, budgets, traces) ---

resource "google_project_iam_member" "sql_client" {
  for_each = toset(["registry", "gateway"])

  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.service[each.key].email}"

  condition {
    title       = "only-${var.sql_instance_name}"
    description = "Connect to the harness instance only."
    expression  = "resource.name == 'projects/${var.project_id}/instances/${var.sql_instance_name}' && resource.service == 'sqladmin.googleapis.com'"
  }
}

moved {
  from = google_project_iam_member.registry_sql_client
  to   = google_project_iam_member.sql_client["registry"]
}
