output "topics" {
  description = "Per topic key: the topic id, its dead-letter topic id and who publishes to it."
  value = {
    for k, t in local.topics : k => {
      id              = google_pubsub_topic.topic[k].id
      name            = google_pubsub_topic.topic[k].name
      dead_letter_id  = google_pubsub_topic.dead_letter[k].id
      publishers      = t.publishers
      dead_letter_sub = google_pubsub_subscription.dead_letter[k].name
    }
  }
}

output "source_subscriptions" {
  description = "Subscriptions with a dead-letter policy (Pub/Sub's service agent must be able to ack on them)."
  value = merge(
    { for k, s in google_pubsub_subscription.push : k => s.id },
    { for s in google_pubsub_subscription.registry_events_example : "registry-events-example" => s.id },
  )
}

output "registry_events_example_subscription" {
  description = "Id of the example downstream subscription, or null."
  value       = one(google_pubsub_subscription.registry_events_example[*].id)
}

output "dead_letter_subscriptions" {
  description = "Names of the dead-letter subscriptions (alerted on)."
  value       = [for s in google_pubsub_subscription.dead_letter : s.name]
}
