output "network_id" {
  description = "The VPC's id."
  value       = google_compute_network.vpc.id
}

output "network_name" {
  description = "The VPC's name."
  value       = google_compute_network.vpc.name
}

output "subnet_name" {
  description = "The Cloud Run egress subnet's name."
  value       = google_compute_subnetwork.run.name
}

output "private_services_connection" {
  description = "The private services access peering (Cloud SQL waits for it)."
  value       = google_service_networking_connection.services.id
}
