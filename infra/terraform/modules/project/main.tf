# The project's APIs and the Google-managed identities the rest of the stack refers to.

data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_service" "api" {
  for_each = toset(var.apis)

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}

# Pub/Sub's service agent (service-<number>@gcp-sa-pubsub.iam.gserviceaccount.com) is
# created lazily; asking for it here makes it exist before IAM bindings name it.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.api]
}
