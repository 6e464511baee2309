# A private network for Cloud SQL (private IP through private services access) and the
# subnet Cloud Run uses for Direct VPC egress to reach it. No VM lives here; with no
# ingress firewall rule, nothing outside can open a connection into it.

resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = "${var.prefix}vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "run" {
  project       = var.project_id
  name          = "${var.prefix}run-egress"
  region        = var.region
  network       = google_compute_network.vpc.id
  ip_cidr_range = var.egress_cidr

  # Google APIs stay reachable from instances that have no external address.
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = var.flow_log_sampling
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# The range Google's service producers (Cloud SQL) take their addresses from.
resource "google_compute_global_address" "services" {
  project       = var.project_id
  name          = "${var.prefix}private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_services_prefix_length
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.services.name]

  # Removing the peering while Cloud SQL still holds addresses in it fails; on destroy,
  # leave it to go with the network.
  deletion_policy = "ABANDON"
}

# Nothing is meant to be reachable inside this VPC: say so explicitly, and log attempts.
resource "google_compute_firewall" "deny_ingress" {
  project   = var.project_id
  name      = "${var.prefix}deny-all-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
