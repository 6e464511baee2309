output "alert_policies" {
  description = "Alert policy names."
  value = [
    google_monitoring_alert_policy.dead_letters.name,
    google_monitoring_alert_policy.errors_5xx.name,
  ]
}
