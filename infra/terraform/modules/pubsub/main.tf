# The Pub/Sub topology of libs/harness/bus/topics.py (tests/unit/test_terraform.py checks
# that the two agree): one topic per key, each with a dead-letter topic and a pull
# subscription on it, and one push subscription per (topic, consumer) that POSTs to
# https://<consumer URL>/pubsub/push with an OIDC token from the push service account.

locals {
  topics = {
    "registry-events" = {
      publishers = ["registry"]
      consumers  = [] # downstream apps make their own subscriptions
      ordered    = true
    }
    runs = {
      publishers = ["registry"]
      consumers  = ["runner"]
      ordered    = true
    }
    results = {
      publishers = ["runner", "scorer", "generator"]
      consumers  = ["registry"]
      ordered    = true
    }
    scoring = {
      publishers = ["registry"]
      consumers  = ["scorer"]
      ordered    = true
    }
    generation = {
      publishers = ["registry"]
      consumers  = ["generator"]
      ordered    = true
    }
  }

  push = {
    for pair in flatten([
      for key, t in local.topics : [for c in t.consumers : { topic = key, consumer = c }]
    ]) : "${pair.topic}-${pair.consumer}" => pair
  }
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${var.prefix}${each.key}"
  labels                     = var.labels
  message_retention_duration = var.topic_retention
  kms_key_name               = var.kms_key_name
}

resource "google_pubsub_topic" "dead_letter" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${var.prefix}${each.key}-dead-letter"
  labels                     = var.labels
  message_retention_duration = var.topic_retention
  kms_key_name               = var.kms_key_name
}

# Where dead letters wait to be inspected (and alerted on: modules/monitoring).
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.topics

  project                    = var.project_id
  name                       = "${var.prefix}${each.key}-dead-letter"
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = false

  expiration_policy {
    ttl = "" # never expires while idle
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.push

  project                    = var.project_id
  name                       = "${var.prefix}${each.value.topic}-${each.value.consumer}"
  topic                      = google_pubsub_topic.topic[each.value.topic].id
  labels                     = var.labels
  ack_deadline_seconds       = lookup(var.ack_deadline_seconds, each.value.consumer, 60)
  message_retention_duration = var.subscription_retention
  enable_message_ordering    = local.topics[each.value.topic].ordered

  push_config {
    push_endpoint = "${var.service_urls[each.value.consumer]}/pubsub/push"

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.service_urls[each.value.consumer]
    }
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.topic].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

# An example pull subscription on registry-events for a downstream app (optional): the
# code has no consumer of this topic; each app makes its own subscription like this one.
resource "google_pubsub_subscription" "registry_events_example" {
  count = var.registry_events_example_subscription ? 1 : 0

  project                    = var.project_id
  name                       = "${var.prefix}registry-events-example"
  topic                      = google_pubsub_topic.topic["registry-events"].id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = var.subscription_retention
  enable_message_ordering    = local.topics["registry-events"].ordered

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter["registry-events"].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}
